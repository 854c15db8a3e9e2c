// Moderator console: the words of the admin screens and the paged, folded queue, in one place.
// (The console's older labels are still written into console.html and console.js.) Elements
// with data-word="key" get WORDS[key] as their text when the page starts; functions make the
// sentences that carry numbers or names. Everything here is put into the page as text, never
// as markup.
"use strict";

const WORDS = Object.freeze({
  // the queue, a page at a time
  counts: (waiting, urgent) => `${waiting} waiting, ${urgent} urgent`,
  queueMore: "Show more of the queue",
  queueMoreDone: (shown) => `Showing the first ${shown} entries of the queue.`,
  groupBadge: (cases, urgent) => `${cases} cases from one source${urgent ? `, ${urgent} urgent` : ""}`,
  groupOpen: (more) => `Show ${more} more from the same source`,
  groupClose: "Hide the cases from the same source",
  groupMore: "Show more from the same source",
  groupMember: "Same source",
  urgentMore: (more) => `${more} more urgent ${more === 1 ? "case" : "cases"} from the same source`,
  urgentMoreBody: "Several people may share one connection. Open the console.",

  // a case, for admins
  assignLabel: "Give this case to",
  assignButton: "Reassign",
  assignHint: "An admin can give any open case to an active moderator, or release it to the queue.",
  assignChoose: "Choose a moderator",
  assignNone: "Choose a moderator first.",
  assigned: (email) => `The case now belongs to ${email}.`,
  forceReleased: "The case is back in the queue. The person was told the bot is with them again.",

  // accounts and settings
  adminNav: "Accounts",
  adminHeading: "Accounts and settings",
  requireHeading: "Two-factor sign-in",
  requireLabel: "Require two-factor sign-in for every account",
  requireHint: "Moderators without it can then open only the page that sets it up. Each moderator sets it up under \"Two-factor sign-in\" at the top of the console.",
  requireSave: "Save",
  requireOn: "Two-factor sign-in is now required for every account.",
  requireOff: "Two-factor sign-in is no longer required.",
  accountsHeading: "Moderator accounts",
  accountsCaption: "Everyone who can sign in to the console",
  accountsEmpty: "No accounts yet.",
  columns: ["Email", "Role", "Status", "Two-factor sign-in", "Cases owned", "Action"],
  active: "Active",
  disabledState: "Disabled",
  on: "On",
  off: "Off",
  you: "This is you",
  disable: "Disable",
  enable: "Enable",
  confirmDisable: (email) => `Disable ${email}? Their sessions end now, and each case they own goes back to the queue.`,
  disabled: (email, released) => `${email} is disabled.${released ? ` ${released} of their cases went back to the queue; each person was told.` : ""}`,
  enabled: (email) => `${email} can sign in again.`,
});

/** Fill every data-word element under `root` with its text. */
function fillWords(root = document) {
  for (const node of root.querySelectorAll("[data-word]")) {
    const word = WORDS[node.dataset.word];
    if (typeof word === "string") node.textContent = word;
  }
}
