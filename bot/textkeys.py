"""Every text key the code itself uses (the flows name their own), so `supportbot validate`
requires each of them in every locale and reports any a locale has that nothing uses, without a
hand-kept list (issue 12). Code refers to a text through these constants or the families below;
tests/test_textkeys.py fails on a key written as a plain string anywhere else in bot/.
"""

from __future__ import annotations

from bot.directory import AGE_BANDS, NATIONS
from bot.evidence.indicators import KINDS as INDICATOR_KINDS

REGISTRY: set[str] = set()


def _key(name: str) -> str:
    REGISTRY.add(name)
    return name


# --- common --------------------------------------------------------------------------------------
COMMON_NEXT = _key("common.next")
COMMON_NO = _key("common.no")
COMMON_YES = _key("common.yes")

# --- day ---------------------------------------------------------------------------------------
DAY_EVERY_DAY = _key("day.every_day")  # day names themselves come from CLDR (babel)

# --- dir -----------------------------------------------------------------------------------------
DIR_CALL = _key("dir.call")
DIR_CLOSED_NOW = _key("dir.closed_now")
DIR_HEADER = _key("dir.header")
DIR_HOURS_UNKNOWN = _key("dir.hours_unknown")
DIR_MIDNIGHT = _key("dir.midnight")
DIR_MORE = _key("dir.more")
DIR_OPEN_NOW = _key("dir.open_now")
DIR_OR = _key("dir.or")
DIR_TEXT = _key("dir.text")
DIR_TEXT_KEYWORD = _key("dir.text_keyword")

# --- evidence ------------------------------------------------------------------------------------
EVIDENCE_AFTER_INTAKE = _key("evidence.after_intake")
EVIDENCE_FOUND = _key("evidence.found")
EVIDENCE_FOUND_EARLIER = _key("evidence.found_earlier")
EVIDENCE_FOUND_QUESTION = _key("evidence.found_question")
EVIDENCE_HOW_TO_FINISH = _key("evidence.how_to_finish")
EVIDENCE_KEPT = _key("evidence.kept")
EVIDENCE_KEPT_SAID = _key("evidence.kept_said")
EVIDENCE_MASS_PHISHING = _key("evidence.mass_phishing")
EVIDENCE_NO_IMAGES_YOUNG = _key("evidence.no_images_young")
EVIDENCE_NOT_NOW = _key("evidence.not_now")
EVIDENCE_NOTHING_YET = _key("evidence.nothing_yet")
EVIDENCE_OPT_KEEP_ALL = _key("evidence.opt_keep_all")
EVIDENCE_OPT_REMOVE = _key("evidence.opt_remove")
EVIDENCE_PACK_READY = _key("evidence.pack_ready")
EVIDENCE_QUOTA = _key("evidence.quota")
EVIDENCE_REFUSED = _key("evidence.refused")
EVIDENCE_REFUSED_TOO_BIG = _key("evidence.refused_too_big")
EVIDENCE_REMOVED = _key("evidence.removed")
EVIDENCE_SAVED_FILE = _key("evidence.saved_file")
EVIDENCE_SAVED_TEXT = _key("evidence.saved_text")
EVIDENCE_SOON = _key("evidence.soon")
EVIDENCE_WARNING = _key("evidence.warning")
EVIDENCE_YOUNG_FILES_REMOVED = _key("evidence.young_files_removed")

# --- sys -----------------------------------------------------------------------------------------
SYS_CLOSING = _key("sys.closing")
SYS_CRISIS_AFTER = _key("sys.crisis_after")
SYS_CRISIS_CHECK = _key("sys.crisis_check")
SYS_CRISIS_CHECK_NO = _key("sys.crisis_check_no")
SYS_CRISIS_INTRO = _key("sys.crisis_intro")
SYS_CRISIS_LINES = _key("sys.crisis_lines")
SYS_CRISIS_OTHER = _key("sys.crisis_other")
SYS_DELETE_CONFIRM = _key("sys.delete_confirm")
SYS_DELETE_KEPT = _key("sys.delete_kept")
SYS_DELETED = _key("sys.deleted")
SYS_DONT_SEND_MORE = _key("sys.dont_send_more")
SYS_EMPTY = _key("sys.empty")
SYS_EXIT = _key("sys.exit")
SYS_FEELINGS = _key("sys.feelings")
SYS_GUESS = _key("sys.guess")
SYS_GUESS_STORY = _key("sys.guess_story")
SYS_GUESS_WRONG = _key("sys.guess_wrong")
SYS_HELP = _key("sys.help")
SYS_HUMAN = _key("sys.human")
SYS_HUMAN_STAFFED = _key("sys.human_staffed")
SYS_LANGUAGE = _key("sys.language")
SYS_LANGUAGE_NOTICED = _key("sys.language_noticed")
SYS_LANGUAGE_ONLY_ONE = _key("sys.language_only_one")
SYS_LANGUAGE_SWITCHED = _key("sys.language_switched")
SYS_WELCOME_IN_OTHER = _key("sys.welcome_in_other")
SYS_STORAGE_DOWN = _key("sys.storage_down")
SYS_LEAVE_QUICKLY = _key("sys.leave_quickly")  # the channels' leave button
SYS_LIMITED = _key("sys.limited")
SYS_MODERATOR_JOINED = _key("sys.moderator_joined")
SYS_MODERATOR_LEFT = _key("sys.moderator_left")
SYS_NATION_OPTIONAL = _key("sys.nation_optional")
SYS_NOT_KEPT = _key("sys.not_kept")
SYS_NOTED = _key("sys.noted")
SYS_NOW_YOUNG = _key("sys.now_young")
SYS_OPT_CHECK_NO = _key("sys.opt_check_no")
SYS_OPT_CHECK_YES = _key("sys.opt_check_yes")
SYS_OPT_DELETE_NO = _key("sys.opt_delete_no")
SYS_OPT_DELETE_YES = _key("sys.opt_delete_yes")
SYS_OPT_HELP = _key("sys.opt_help")
SYS_OPT_HUMAN = _key("sys.opt_human")
SYS_OPT_RESTART = _key("sys.opt_restart")
SYS_QUESTION_UNKNOWN = _key("sys.question_unknown")
SYS_RB_AGE = _key("sys.rb_age")
SYS_RB_AND = _key("sys.rb_and")
SYS_RB_BAND = _key("sys.rb_band")
SYS_RB_PLACE = _key("sys.rb_place")
SYS_RB_PLACE_TOWN = _key("sys.rb_place_town")
SYS_READBACK = _key("sys.readback")
SYS_READBACK_FIX = _key("sys.readback_fix")
SYS_REASK = _key("sys.reask")
SYS_REASK_PATTERN = _key("sys.reask_pattern")
SYS_REASK_TWICE = _key("sys.reask_twice")
SYS_RESTARTED = _key("sys.restarted")
SYS_STALE = _key("sys.stale")
SYS_STILL_HERE = _key("sys.still_here")
SYS_SWITCH_PATTERN = _key("sys.switch_pattern")
SYS_THANKS_THEN = _key("sys.thanks_then")
SYS_TOO_LONG = _key("sys.too_long")
SYS_UNSUPPORTED = _key("sys.unsupported")
SYS_WELCOME_BACK = _key("sys.welcome_back")


# --- families: one key per member of a set the code knows ----------------------------------------


def age_label(band: str) -> str:
    return f"intake.age_{band}"


def nation_label(nation: str) -> str:
    return f"intake.nation_{nation}"


def contact_way(kind: str) -> str:
    return f"dir.{kind}"


def hours_kind(kind: str) -> str:
    return f"dir.hours_{kind}"


def indicator_label(kind: str) -> str:
    return f"ind.{kind}"


def command_text(name: str) -> str:
    """A Telegram menu command's description ("start" -> sys.command_start)."""
    return f"sys.command_{name}"


TELEGRAM_COMMANDS = ("start", "help", "human", "exit", "delete", "language")
CONTACT_WAYS = ("web", "chat", "email")
HOURS_KINDS = ("always", "online")


def required() -> set[str]:
    """Every key the code may ask for (flows and the directory add theirs in bot.validate)."""
    return (
        REGISTRY
        | {age_label(band) for band in AGE_BANDS}
        | {nation_label(nation) for nation in NATIONS}
        | {contact_way(kind) for kind in CONTACT_WAYS}
        | {hours_kind(kind) for kind in HOURS_KINDS}
        | {indicator_label(kind) for kind in INDICATOR_KINDS}
        | {command_text(name) for name in TELEGRAM_COMMANDS}
    )
