"""Reading what people type: crisis signals, commands, ages, places and what happened.

Rules, not a model: predictable, fast, and easy to extend by adding phrases. Where a guess is
inferred rather than stated (a city, a description), the engine reads it back for confirmation.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.directory import band_for_age

_CONTROL = re.compile(
    r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
)
_SPACE = re.compile(r"\s+")
_NOT_WORD = re.compile(r"[^\w\s@./+'-]")


def clean(text: str) -> str:
    """Remove control and bidirectional-override characters; keep the person's words intact."""
    return _SPACE.sub(" ", _CONTROL.sub("", unicodedata.normalize("NFC", text))).strip()


def normalise(text: str) -> str:
    """A lower-case, punctuation-light form for matching."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'").replace("‘", "'")
    folded = folded.replace("'", "")  # don't / dont, i'm / im
    return _SPACE.sub(" ", _NOT_WORD.sub(" ", folded)).strip()


def _words(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b")


# --- safety first --------------------------------------------------------------------------------

_CRISIS = _words(
    r"(?:want|going|ready|plan(?:ning)?) to die",
    r"wanna die",
    r"wish i (?:was|were) dead",
    r"kill(?:ing)? my ?self",
    r"kms",
    r"end(?:ing)? (?:my life|it all|it now|everything)",
    r"take my (?:own )?life",
    r"suicid\w*",
    r"no (?:point|reason) (?:in )?(?:living|to live|going on|being alive)",
    r"not worth living",
    r"better off dead",
    r"(?:dont|do not) want to (?:live|be alive|be here|exist|wake up)",
    r"cant go on",
    r"hurt(?:ing)? my ?self",
    r"harm(?:ing)? my ?self",
    r"self ?-?harm\w*",
    r"cut(?:ting)? my ?self",
    r"overdos\w*",
    r"hang my ?self",
)


def signals_crisis(text: str) -> bool:
    # Invisible characters are removed first, so "d\u200bie" still reads as "die".
    return bool(_CRISIS.search(normalise(clean(text))))


# --- commands that work in any state -------------------------------------------------------------

_COMMANDS: dict[str, tuple[str, ...]] = {
    "exit": ("/exit", "exit", "leave", "leave quickly", "quick exit", "get me out", "close"),
    "delete": (
        "/delete",
        "delete",
        "delete everything",
        "delete everything about me",
        "delete my data",
        "forget me",
        "erase my data",
    ),
    "restart": ("/restart", "/start", "restart", "start again", "start over", "begin again"),
    "human": (
        "/human",
        "human",
        "person",
        "a person",
        "a human",
        "real person",
        "talk to a person",
        "talk to someone",
        "speak to someone",
        "speak to a person",
        "talk to a human",
        "speak to a human",
    ),
    "help": ("/help", "help", "?", "menu", "commands", "what can i do", "options"),
    "language": ("/language", "language", "change language"),
    "evidence": ("/evidence", "evidence", "add evidence", "save evidence", "keep evidence"),
    "export": (
        "/export",
        "export",
        "my evidence",
        "get my evidence",
        "evidence pack",
        "download evidence",
        "send me my evidence",
        "my pack",
    ),
}
_COMMAND_OF = {
    normalise(phrase) if phrase[0].isalpha() else phrase: command
    for command, phrases in _COMMANDS.items()
    for phrase in phrases
}
_ASK_HUMAN = _words(
    r"(?:talk|speak|chat) (?:to|with) (?:a |an |some )?(?:real |actual )?"
    r"(?:person|human|someone|somebody|adviser|advisor)",
    r"real (?:person|human)",
)


def command_in(text: str) -> str | None:
    """The command a whole message is (e.g. 'exit', '/help'), or an explicit ask for a person."""
    stripped = text.strip().casefold()
    if stripped.startswith("/"):
        return _COMMAND_OF.get(stripped.split()[0].split("@")[0])
    if stripped == "?":
        return "help"
    folded = normalise(text)
    if folded and folded in _COMMAND_OF:
        return _COMMAND_OF[folded]
    if _ASK_HUMAN.search(folded):
        return "human"
    return None


# --- answers to the intake questions ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reading:
    """A value read from free text. `certain` is False when inferred, so it is read back first."""

    fields: dict[str, str]
    certain: bool
    age: int | None = None
    detail: str = ""  # e.g. the city that told us the nation, for the read-back


_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}
_AGE_NUMBER = re.compile(r"\b(\d{1,3})\b")
_AGE_CONTEXT = _words(r"im", r"i am", r"age", r"aged", r"years?", r"yrs?", r"yo", r"y o", r"old")
_PREFER_NOT = _words(
    r"prefer not(?: to say)?",
    r"rather not(?: say)?",
    r"(?:dont|do not) want to say",
    r"not (?:saying|telling)",
    r"skip",
    r"pass",
)
_UNDER_18 = _words(r"under 18", r"under eighteen", r"teen(?:ager)?", r"minor", r"child", r"kid")


def read_age(text: str) -> Reading | None:
    folded = normalise(text)
    if _PREFER_NOT.search(folded):
        return Reading({"age_band": "unknown"}, certain=True)
    numbers = [int(n) for n in _AGE_NUMBER.findall(folded)]
    numbers += [_NUMBER_WORDS[w] for w in folded.split() if w in _NUMBER_WORDS]
    bare = folded.isdigit() or folded in _NUMBER_WORDS
    plausible = [n for n in numbers if 5 <= n <= 110]
    if len(plausible) == 1 and (bare or _AGE_CONTEXT.search(folded)):
        age = plausible[0]
        return Reading({"age_band": band_for_age(age)}, certain=True, age=age)
    if _UNDER_18.search(folded):
        return Reading({"age_band": "13_17"}, certain=False, detail="under 18")
    return None


_NATION_NAMES = {
    "england": ("england", "english"),
    "wales": ("wales", "welsh", "cymru"),
    "scotland": ("scotland", "scottish", "alba"),
    "northern_ireland": ("northern ireland", "n ireland", "ni", "norn iron"),
    "outside_uk": (
        "outside the uk",
        "outside uk",
        "not in the uk",
        "abroad",
        "overseas",
        "another country",
        "elsewhere",
    ),
}
_PLACES = {
    "england": (
        "london",
        "manchester",
        "birmingham",
        "leeds",
        "liverpool",
        "sheffield",
        "bristol",
        "newcastle",
        "nottingham",
        "leicester",
        "coventry",
        "bradford",
        "hull",
        "plymouth",
        "southampton",
        "portsmouth",
        "brighton",
        "reading",
        "derby",
        "stoke",
        "wolverhampton",
        "sunderland",
        "norwich",
        "oxford",
        "cambridge",
        "york",
        "exeter",
        "bath",
        "cornwall",
        "devon",
        "kent",
        "essex",
        "surrey",
        "sussex",
        "yorkshire",
        "lancashire",
        "cumbria",
        "preston",
        "blackpool",
        "bournemouth",
        "middlesbrough",
        "milton keynes",
        "luton",
        "swindon",
        "ipswich",
        "peterborough",
    ),
    "wales": (
        "cardiff",
        "swansea",
        "newport",
        "wrexham",
        "aberystwyth",
        "carmarthen",
        "llanelli",
        "bridgend",
        "merthyr",
        "barry",
        "pontypridd",
        "caerphilly",
        "neath",
        "port talbot",
        "rhondda",
        "aberdare",
        "anglesey",
        "pembrokeshire",
        "powys",
        "ceredigion",
        "gwynedd",
        "conwy",
        "flintshire",
        "monmouthshire",
    ),
    "scotland": (
        "glasgow",
        "edinburgh",
        "aberdeen",
        "dundee",
        "inverness",
        "stirling",
        "perth",
        "paisley",
        "kilmarnock",
        "ayr",
        "falkirk",
        "livingston",
        "dunfermline",
        "kirkcaldy",
        "fife",
        "highlands",
        "moray",
        "aberdeenshire",
        "orkney",
        "shetland",
        "dumfries",
        "lanarkshire",
    ),
    "northern_ireland": (
        "belfast",
        "derry",
        "londonderry",
        "lisburn",
        "newry",
        "armagh",
        "omagh",
        "enniskillen",
        "ballymena",
        "coleraine",
        "antrim",
        "fermanagh",
        "tyrone",
        "portadown",
        "craigavon",
    ),
    "outside_uk": (
        "ireland",
        "dublin",
        "cork",
        "usa",
        "america",
        "united states",
        "canada",
        "australia",
        "new zealand",
        "india",
        "pakistan",
        "nigeria",
        "ghana",
        "kenya",
        "south africa",
        "philippines",
        "france",
        "germany",
        "spain",
        "italy",
        "portugal",
        "netherlands",
        "belgium",
        "poland",
        "sweden",
        "norway",
        "denmark",
        "finland",
        "brazil",
        "mexico",
        "jersey",
        "guernsey",
        "isle of man",
    ),
}


def _place_patterns(
    table: dict[str, tuple[str, ...]],
) -> list[tuple[re.Pattern[str], str, str]]:
    # Longest names first, so "northern ireland" is matched before "ireland".
    entries = [(name, nation) for nation, names in table.items() for name in names]
    entries.sort(key=lambda entry: -len(entry[0]))
    return [(_words(re.escape(name)), nation, name) for name, nation in entries]


_NATION_OF = _place_patterns(_NATION_NAMES)
_CITY_OF = _place_patterns(_PLACES)


def read_nation(text: str) -> Reading | None:
    folded = normalise(text)
    for pattern, nation, _ in _NATION_OF:
        if pattern.search(folded):
            return Reading({"nation": nation}, certain=True)
    for pattern, nation, place in _CITY_OF:
        if pattern.search(folded):
            return Reading({"nation": nation}, certain=False, detail=place.title())
    return None


# What happened: keywords from the voice guide, scored per pattern.
_PATTERN_WORDS: dict[str, tuple[str, ...]] = {
    "phishing": (
        r"e-?mail",
        r"malware",
        r"virus",
        r"trojan",
        r"rdp",
        r"dual screen",
        r"hacked (?:your|my) "
        r"(?:device|computer|phone|laptop|webcam)",
        r"your password is",
        r"password",
        r"bitcoin",
        r"btc",
        r"wallet",
        r"crypto\w*",
        r"\d{2} hours",
        r"48 hours",
        r"72 hours",
        r"porn\w*",
        r"adult site",
        r"pixel",
    ),
    "webcam": (
        r"video ?(?:chat|call)",
        r"webcam",
        r"facetime",
        r"skype",
        r"on camera",
        r"cam",
        r"recorded",
        r"screen ?record\w*",
        r"video ?called",
        r"live stream",
    ),
    "fake_profile": (
        r"dating",
        r"tinder",
        r"bumble",
        r"hinge",
        r"grindr",
        r"girl",
        r"woman",
        r"guy",
        r"man",
        r"she",
        r"he",
        r"her",
        r"girlfriend",
        r"boyfriend",
        r"met (?:on|online)",
        r"sent (?:me )?(?:pics|pictures|photos|nudes) first",
        r"moved (?:to|onto)",
        r"instagram",
        r"snapchat",
        r"snap",
        r"profile",
        r"nudes?",
        r"pics",
    ),
    "impersonation": (
        r"my friends account",
        r"friends account",
        r"cloned",
        r"clone",
        r"pretend\w* to be",
        r"impersonat\w*",
        r"fake account of",
        r"someone i know",
        r"thought it was",
    ),
    "hacked": (
        r"hacked my",
        r"got into my",
        r"locked out",
        r"cant log ?in",
        r"my account was hacked",
        r"account (?:was |got )?hacked",
        r"cloud",
        r"icloud",
        r"google photos",
        r"saved (?:pictures|photos|pics)",
        r"changed my password",
    ),
    "shared": (
        r"posted",
        r"shared (?:it|them|the|my)",
        r"sent (?:it|them) to",
        r"group ?chat",
        r"uploaded",
        r"my (?:friends|family|followers|mum|dad|parents) (?:saw|got|have)",
        r"already sent",
        r"online now",
        r"leaked",
    ),
    "paid": (
        r"i paid",
        r"paid (?:them|him|her|it)",
        r"already paid",
        r"sent (?:them |him |her )?money",
        r"gift ?cards?",
        r"western union",
        r"moneygram",
        r"bank transfer",
        r"paypal",
        r"cash app",
        r"transferred",
    ),
}
_PATTERN_RE = {name: _words(*words) for name, words in _PATTERN_WORDS.items()}
# Strong signals win ties: money paid or images out are what change the advice most.
_WEIGHT = {
    "paid": 3,
    "shared": 3,
    "hacked": 2,
    "impersonation": 2,
    "phishing": 1,
    "webcam": 1,
    "fake_profile": 1,
}


def read_pattern(text: str) -> Reading | None:
    folded = normalise(text)
    scores = {}
    for name, pattern in _PATTERN_RE.items():
        hits = len(pattern.findall(folded))
        if hits:
            scores[name] = hits * _WEIGHT[name]
    if not scores:
        return None
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
        # A genuine tie: ask rather than guess.
        return None
    return Reading({"pattern": ranked[0][0]}, certain=False)


_YES = {
    "yes",
    "y",
    "yeah",
    "yep",
    "yup",
    "yes please",
    "correct",
    "right",
    "thats right",
    "ok",
    "okay",
    "sure",
    "it is",
    "true",
    "aye",
}
_NO = {"no", "n", "nope", "nah", "wrong", "not right", "thats wrong", "no thanks", "incorrect"}


def read_yes_no(text: str) -> bool | None:
    folded = normalise(text)
    if folded in _YES:
        return True
    if folded in _NO:
        return False
    return None
