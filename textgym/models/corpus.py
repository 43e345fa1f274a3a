"""Seeded, grammar-based generator of short English reviews and stories.

The generator needs no external data: every document is assembled from
hand-written word lists and sentence templates with a ``random.Random(seed)``
instance, so the same ``(n, seed)`` always yields the same documents.

Two document types are produced:

* **Reviews** of products, films, restaurants, books and hotels.  Each review
  has an overall polarity (positive, negative, mixed or neutral) and is made of
  2-5 sentences: openings such as ``"The pasta at this little place was"``
  completed with a judgement, aspect judgements, contrasts (``"..., but ..."``),
  negations (``"not bad at all"``), questions, exclamations, comparisons,
  relative and subordinate clauses, and recommendations.
* **Stories**: 2-5 sentence vignettes about a named character, with a happy,
  sad, mixed or neutral arc.

Public API:

* :func:`generate_documents` -- a list of documents (about 60% reviews).
* :func:`labelled_reviews` -- the corpus' reviews with their overall polarity
  label (``POS`` = 1, ``NEG`` = -1, ``NEU`` = 0).
* :func:`review_openings` -- distinct, sentiment-neutral review openings that
  serve as prompts for sentiment-steering tasks.

Run ``python -m textgym.models.corpus --n 5 --seed 0`` to print samples.
"""

from __future__ import annotations

import argparse
import random
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["generate_documents", "labelled_reviews", "review_openings"]

POS = 1
NEG = -1
NEU = 0

# ---------------------------------------------------------------------------
# Small grammatical helpers
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Noun:
    """A noun phrase head with its grammatical number and adjective kind."""

    text: str
    plural: bool = False
    kind: str = "general"


def _n(text: str, kind: str = "general", plural: bool = False) -> Noun:
    return Noun(text=text, plural=plural, kind=kind)


def _pl(text: str, kind: str = "general") -> Noun:
    return Noun(text=text, plural=True, kind=kind)


def _article(phrase: str) -> str:
    """Prefix ``phrase`` with the indefinite article that fits its first word."""
    word = phrase.split()[0].lower()
    if word.startswith(("hour", "honest", "honor")):
        art = "an"
    elif word.startswith(("uni", "use", "usu", "one", "eu", "ur")):
        art = "a"
    elif word[0] in "aeiou":
        art = "an"
    else:
        art = "a"
    return f"{art} {phrase}"


def _fix_articles(text: str) -> str:
    """Turn "a" into "an" before words that start with a vowel letter."""
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", lambda m: m.group(1) + "n ", text)


def _cap(text: str) -> str:
    """Capitalise the first character of ``text``."""
    return text[:1].upper() + text[1:] if text else text


def _be(noun: Noun, past: bool = True) -> str:
    if past:
        return "were" if noun.plural else "was"
    return "are" if noun.plural else "is"


def _pron(noun: Noun) -> str:
    return "they" if noun.plural else "it"


# ---------------------------------------------------------------------------
# Adjectives: ADJ[kind][polarity] = (gradable, extreme)
# Gradable adjectives accept "very"; extreme ones take "absolutely" & co.
# ---------------------------------------------------------------------------

_Adj = tuple[tuple[str, ...], tuple[str, ...]]

ADJ: dict[str, dict[int, _Adj]] = {
    "general": {
        POS: (
            ("good", "nice", "great", "lovely", "pleasant", "enjoyable", "impressive",
             "beautiful", "charming", "fun", "solid", "satisfying", "refreshing",
             "memorable", "special", "cool"),
            ("wonderful", "excellent", "fantastic", "amazing", "delightful", "superb",
             "brilliant", "perfect", "outstanding", "incredible", "magnificent",
             "marvelous", "terrific", "fabulous", "exceptional", "awesome"),
        ),
        NEG: (
            ("bad", "poor", "disappointing", "boring", "dull", "annoying", "unpleasant",
             "frustrating", "mediocre", "weak", "sad", "forgettable", "irritating",
             "ugly", "depressing"),
            ("terrible", "awful", "horrible", "dreadful", "atrocious", "abysmal",
             "appalling", "pathetic", "useless", "hopeless", "horrendous", "miserable"),
        ),
    },
    "food": {
        POS: (
            ("delicious", "fresh", "tasty", "flavorful", "rich", "tender", "crispy",
             "juicy", "creamy", "warm", "light", "well seasoned", "satisfying", "sweet"),
            ("divine", "heavenly", "perfect", "excellent", "superb", "incredible",
             "mouthwatering", "perfectly cooked", "out of this world"),
        ),
        NEG: (
            ("bland", "cold", "greasy", "dry", "salty", "soggy", "stale", "overcooked",
             "undercooked", "tasteless", "chewy", "burnt", "watery", "oily"),
            ("inedible", "disgusting", "awful", "terrible", "revolting", "nasty"),
        ),
    },
    "person": {
        POS: (
            ("friendly", "helpful", "kind", "attentive", "polite", "welcoming", "warm",
             "patient", "cheerful", "professional", "funny", "thoughtful", "generous"),
            ("wonderful", "lovely", "fantastic", "excellent", "amazing", "delightful"),
        ),
        NEG: (
            ("rude", "unfriendly", "unhelpful", "careless", "slow", "impatient", "cold",
             "dismissive", "grumpy", "arrogant", "lazy", "clueless", "moody"),
            ("terrible", "awful", "horrible", "hostile", "useless", "incompetent"),
        ),
    },
    "service": {
        POS: (
            ("quick", "fast", "efficient", "smooth", "friendly", "attentive", "easy",
             "helpful", "reliable", "prompt"),
            ("excellent", "perfect", "outstanding", "flawless", "superb", "impeccable"),
        ),
        NEG: (
            ("slow", "chaotic", "disorganized", "sloppy", "careless", "confusing",
             "unreliable", "stressful"),
            ("terrible", "awful", "painfully slow", "shocking", "a total mess", "hopeless"),
        ),
    },
    "venue": {
        POS: (
            ("cozy", "charming", "quiet", "lively", "clean", "bright", "relaxing",
             "peaceful", "welcoming", "pretty", "stylish", "convenient", "calm"),
            ("beautiful", "lovely", "wonderful", "perfect", "delightful", "gorgeous",
             "magical", "spotless"),
        ),
        NEG: (
            ("noisy", "crowded", "dirty", "dark", "cramped", "gloomy", "cold", "shabby",
             "depressing", "run down", "smelly", "loud", "tacky"),
            ("filthy", "awful", "horrible", "terrible", "dreadful", "disgusting"),
        ),
    },
    "room": {
        POS: (
            ("clean", "spacious", "comfortable", "quiet", "cozy", "bright", "modern",
             "tidy", "warm", "fresh", "airy", "soft", "peaceful"),
            ("spotless", "immaculate", "perfect", "wonderful", "lovely", "gorgeous"),
        ),
        NEG: (
            ("dirty", "tiny", "cramped", "noisy", "smelly", "dark", "damp", "old",
             "cold", "stuffy", "shabby", "hard", "uncomfortable", "worn"),
            ("filthy", "disgusting", "horrible", "awful", "terrible", "revolting"),
        ),
    },
    "story": {
        POS: (
            ("gripping", "moving", "funny", "clever", "exciting", "touching", "original",
             "thoughtful", "charming", "powerful", "engaging", "compelling", "fresh",
             "beautiful", "smart", "heartwarming", "entertaining"),
            ("brilliant", "unforgettable", "masterful", "magical", "hilarious",
             "stunning", "perfect", "wonderful", "extraordinary", "breathtaking"),
        ),
        NEG: (
            ("boring", "predictable", "slow", "silly", "confusing", "dull", "shallow",
             "forgettable", "tedious", "pointless", "clumsy", "messy", "flat",
             "depressing", "lifeless"),
            ("awful", "terrible", "unbearable", "ridiculous", "painful", "dreadful",
             "laughable", "a mess", "a disaster"),
        ),
    },
    "craft": {
        POS: (
            ("convincing", "natural", "sharp", "witty", "polished", "confident",
             "skillful", "elegant", "strong", "graceful", "clever", "vivid"),
            ("brilliant", "superb", "flawless", "outstanding", "excellent", "masterful"),
        ),
        NEG: (
            ("wooden", "stiff", "flat", "clumsy", "awkward", "sloppy", "lazy", "weak",
             "unconvincing", "stilted", "forced", "bland"),
            ("terrible", "embarrassing", "awful", "painful", "laughable", "atrocious"),
        ),
    },
    "visual": {
        POS: (
            ("striking", "beautiful", "impressive", "creative", "colorful", "elegant",
             "rich", "detailed", "vivid"),
            ("stunning", "gorgeous", "breathtaking", "spectacular", "magnificent"),
        ),
        NEG: (
            ("cheap", "ugly", "dull", "dated", "messy", "fake", "cheesy", "gloomy"),
            ("hideous", "awful", "terrible", "laughable", "horrible"),
        ),
    },
    "sound": {
        POS: (
            ("clear", "crisp", "rich", "warm", "beautiful", "catchy", "powerful",
             "deep", "lovely"),
            ("stunning", "perfect", "excellent", "superb", "gorgeous"),
        ),
        NEG: (
            ("muffled", "tinny", "harsh", "weak", "distorted", "annoying", "loud",
             "thin", "irritating"),
            ("awful", "terrible", "unbearable", "horrible", "painful"),
        ),
    },
    "device": {
        POS: (
            ("sturdy", "reliable", "solid", "quiet", "easy to use", "well made",
             "sleek", "comfortable", "fast", "powerful", "responsive", "light",
             "durable", "handy", "smart"),
            ("flawless", "perfect", "excellent", "superb", "brilliant", "fantastic"),
        ),
        NEG: (
            ("flimsy", "noisy", "cheap", "slow", "weak", "fragile", "clumsy",
             "hard to use", "poorly made", "uncomfortable", "loose", "stiff", "heavy",
             "unreliable"),
            ("useless", "broken", "defective", "terrible", "awful", "worthless"),
        ),
    },
    "price": {
        POS: (
            ("reasonable", "fair", "affordable", "low", "good"),
            ("unbeatable", "excellent", "a bargain", "a steal"),
        ),
        NEG: (
            ("high", "steep", "expensive", "unfair"),
            ("outrageous", "ridiculous", "absurd", "insane", "a rip off"),
        ),
    },
    "portion": {
        POS: (
            ("generous", "huge", "big", "hearty", "filling", "large"),
            ("enormous", "perfect", "just right"),
        ),
        NEG: (
            ("tiny", "small", "stingy", "sad", "skimpy"),
            ("laughable", "pathetic", "ridiculous"),
        ),
    },
    "experience": {
        POS: (
            ("relaxing", "pleasant", "memorable", "enjoyable", "peaceful", "fun",
             "lovely", "special", "happy"),
            ("wonderful", "unforgettable", "perfect", "fantastic", "amazing",
             "delightful", "magical"),
        ),
        NEG: (
            ("stressful", "unpleasant", "exhausting", "disappointing", "frustrating",
             "boring", "sad", "long"),
            ("miserable", "awful", "terrible", "horrible", "a nightmare", "a disaster"),
        ),
    },
}

NEUTRAL_ADJ: tuple[str, ...] = (
    "adequate", "passable", "middling", "unremarkable", "so so", "reasonable enough",
    "fine", "okay", "average", "acceptable", "ordinary", "about what I expected",
    "neither good nor bad", "standard", "pretty normal", "nothing special",
    "much like any other", "alright",
)

GRADABLE_ADVERBS: tuple[str, ...] = (
    "very", "really", "quite", "incredibly", "extremely", "remarkably",
    "surprisingly", "truly", "genuinely", "pretty", "so", "unusually",
)
MILD_NEGATIVE_ADVERBS: tuple[str, ...] = ("a bit", "a little", "rather", "somewhat", "slightly")
EXTREME_ADVERBS: tuple[str, ...] = ("absolutely", "truly", "simply", "just", "really")

# ---------------------------------------------------------------------------
# Domain data
# ---------------------------------------------------------------------------

TIMES: tuple[str, ...] = (
    "last week", "last month", "a few days ago", "yesterday", "last weekend",
    "on Friday night", "over the holidays", "last summer", "two weeks ago",
    "this spring", "on a Sunday afternoon", "last winter", "in January",
    "a couple of weeks ago", "on Saturday", "last year", "this morning",
    "on Tuesday evening", "in the autumn", "recently",
)
CITIES: tuple[str, ...] = (
    "Paris", "Rome", "Lisbon", "Berlin", "Madrid", "Vienna", "Prague", "London", "Dublin",
    "Edinburgh", "Amsterdam", "Oslo", "Stockholm", "Copenhagen", "Athens", "Istanbul",
    "Cairo", "Tokyo", "Kyoto", "Seoul", "Bangkok", "Hanoi", "Delhi", "Mumbai", "Sydney",
    "Melbourne", "Auckland", "Toronto", "Montreal", "Chicago", "Boston", "Denver", "Seattle",
    "Austin", "Miami", "Lima", "Havana", "Nairobi", "Marrakech", "Venice", "Florence",
    "Barcelona", "Seville", "Munich", "Zurich", "Geneva", "Brussels", "Warsaw", "Budapest",
    "Naples", "Porto", "Helsinki", "Krakow", "Glasgow", "Vancouver", "Portland", "Santiago",
    "Manila", "Singapore", "Osaka", "Quebec", "Bristol", "Galway", "Bergen",
)
MONTHS: tuple[str, ...] = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)
WEEKDAYS: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday",
)
NUMBERS: tuple[str, ...] = (
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "fifteen", "twenty", "thirty",
)
COLORS: tuple[str, ...] = (
    "black", "white", "blue", "red", "green", "grey", "yellow", "orange", "purple", "pink",
    "brown", "silver", "navy", "cream", "beige", "turquoise", "maroon", "olive", "gold",
    "lavender", "charcoal", "ivory", "teal", "crimson",
)
GENERAL_NEUTRAL: tuple[str, ...] = (
    "We were there on a {weekday} in {month}.",
    "I went back a second time in {month}.",
    "We had just arrived in {city} after a long trip.",
    "It took about {number} minutes to get there from the center of {city}.",
    "I heard about it from a friend who lives in {city}.",
    "I wrote this review on a {weekday} evening.",
    "This was our first trip to {city}.",
    "I had read about it in a magazine back in {month}.",
    "The one I got was {color}.",
    "Mine came in {color}, but there were {number} other colors.",
    "I have been meaning to write this review since {month}.",
    "We live about {number} miles away.",
)
COMPANIONS: tuple[str, ...] = (
    "my wife", "my husband", "my friend", "my sister", "my brother", "my parents",
    "my kids", "my partner", "my mother", "my father", "a friend", "my colleagues",
    "my girlfriend", "my boyfriend", "my roommate", "my aunt", "my cousin",
    "my best friend", "my neighbor", "my grandmother",
)


@dataclass(frozen=True)
class Domain:
    """Vocabulary and phrase lists for one kind of review."""

    name: str
    items: tuple[str, ...]
    item_kind: str
    aspects: tuple[Noun, ...]
    prep: tuple[str, ...]
    verb_past: tuple[str, ...]
    verb_pp: tuple[str, ...]
    durations: tuple[str, ...]
    person_clauses: tuple[str, ...]
    good_vps: tuple[str, ...]
    bad_vps: tuple[str, ...]
    good_and: tuple[str, ...]
    bad_and: tuple[str, ...]
    neutral_and: tuple[str, ...]
    good_i: tuple[str, ...]
    bad_i: tuple[str, ...]
    good_end: tuple[str, ...]
    bad_end: tuple[str, ...]
    neutral_sentences: tuple[str, ...]
    item_locations: tuple[str, ...] = ()
    experiences: tuple[str, ...] = ()
    i_openings: tuple[str, ...] = ()
    and_openings: tuple[str, ...] = ()


def _parts(*specs: str) -> tuple[Noun, ...]:
    """Parse compact part specs: ``"name[+][:kind]"`` (``+`` plural, kind defaults to device)."""
    nouns = []
    for spec in specs:
        name, _, kind = spec.partition(":")
        plural = name.endswith("+")
        nouns.append(Noun(name.rstrip("+"), plural, kind or "device"))
    return tuple(nouns)


PRODUCT_PARTS: dict[str, tuple[Noun, ...]] = {
    "blender": _parts("motor", "blades+", "jug", "lid"),
    "toaster": _parts("buttons+", "timer", "crumb tray"),
    "coffee maker": _parts("water tank", "coffee:food", "carafe", "timer"),
    "kettle": _parts("handle", "lid", "switch"),
    "vacuum cleaner": _parts("suction", "battery", "filter", "hose"),
    "laptop": _parts("screen:visual", "keyboard", "battery", "speakers+:sound", "trackpad"),
    "tablet": _parts("screen:visual", "battery", "speakers+:sound", "camera"),
    "phone": _parts("screen:visual", "battery", "camera", "speaker:sound"),
    "phone case": _parts("grip", "buttons+", "edges+"),
    "smartwatch": _parts("screen:visual", "battery", "strap", "app"),
    "camera": _parts("lens", "autofocus", "battery", "menus+"),
    "printer": _parts("print quality:visual", "ink cartridges+", "setup:service", "app"),
    "desk lamp": _parts("light:visual", "switch", "base", "arm"),
    "office chair": _parts("seat:room", "armrests+", "wheels+", "back support"),
    "backpack": _parts("zippers+", "straps+", "pockets+", "fabric"),
    "suitcase": _parts("wheels+", "handle", "zipper", "lock"),
    "water bottle": _parts("lid", "seal", "straw"),
    "rice cooker": _parts("rice:food", "timer", "inner pot", "buttons+"),
    "microwave": _parts("turntable", "buttons+", "door", "timer"),
    "hair dryer": _parts("cord", "fan", "heat settings+"),
    "electric toothbrush": _parts("battery", "brush head", "timer", "charger"),
    "keyboard": _parts("keys+", "backlight:visual", "cable"),
    "mouse": _parts("buttons+", "scroll wheel", "battery"),
    "speaker": _parts("sound:sound", "bass:sound", "battery", "volume:sound"),
    "pair of headphones": _parts("sound:sound", "noise cancelling", "ear cushions+:room", "battery"),
    "pair of running shoes": _parts("soles+", "laces+", "fit", "cushioning:room"),
    "winter jacket": _parts("zipper", "hood", "pockets+", "lining:room"),
    "umbrella": _parts("handle", "frame", "fabric"),
    "frying pan": _parts("coating", "handle", "lid"),
    "air fryer": _parts("basket", "timer", "fan", "buttons+"),
    "mattress": _parts("foam:room", "edges+", "cover:room"),
    "bicycle": _parts("brakes+", "gears+", "seat:room", "tires+"),
    "alarm clock": _parts("display:visual", "buttons+", "alarm sound:sound"),
    "board game": _parts("rules+:story", "pieces+", "box:visual", "artwork:visual"),
    "toy robot": _parts("remote", "battery", "lights+:visual"),
}

PRODUCT = Domain(
    name="product",
    items=tuple(PRODUCT_PARTS),
    item_kind="device",
    aspects=(
        _n("price", "price"), _n("design", "visual"), _n("packaging", "visual"),
        _n("delivery", "service"), _pl("instructions", "craft"),
        _n("customer service", "service"), _n("build quality", "device"),
        _n("color", "visual"), _n("size", "general"), _n("quality", "general"),
        _n("finish", "visual"), _n("warranty", "service"), _n("manual", "craft"),
    ),
    prep=("on", "of"),
    verb_past=("bought", "ordered", "got", "picked up"),
    verb_pp=("owned", "used", "bought"),
    durations=("a week", "a month", "three months", "two weeks", "a year", "six months",
               "a few days", "ten days"),
    person_clauses=("the agent who answered my call", "the man who delivered it",
                    "the woman who handled my return", "the seller who replied to my email",
                    "the staff at the shop where I bought it"),
    good_vps=("did exactly what it promised", "worked right out of the box",
              "was worth every penny", "exceeded all my expectations",
              "made my life so much easier", "still looks brand new",
              "has held up really well", "arrived quickly and in perfect condition",
              "feels much more expensive than it is", "fits perfectly in my small apartment"),
    bad_vps=("broke after two days", "fell apart within a month", "arrived damaged",
             "never worked properly", "was a complete waste of money",
             "looked nothing like the pictures", "stopped working after a week",
             "made a horrible noise", "felt cheap the moment I opened the box",
             "lasted less than a month"),
    good_and=("I love it", "it works perfectly", "I have used it every day since",
              "I am very happy with it", "it has already made my mornings easier",
              "I already want to buy another one", "it has been great so far",
              "it is the best purchase I have made this year"),
    bad_and=("it broke after two days", "I regret it already", "it stopped working",
             "I am sending it back", "it has been nothing but trouble",
             "it was a complete waste of money", "I hate it",
             "it arrived with a crack in the side"),
    neutral_and=("it arrived on Monday", "it came in a plain brown box",
                 "I have used it a few times", "it took a while to set up",
                 "it comes in three colors", "I set it up in about ten minutes"),
    good_i=("can honestly say it was worth every penny", "still use it every day",
            "would buy it again without thinking twice", "cannot imagine living without it",
            "would recommend it to anyone"),
    bad_i=("regret buying it", "want my money back", "would not recommend it to anyone",
           "wish I had bought a different one", "am sending it back"),
    good_end=("I would definitely buy it again.", "Highly recommended!", "Five stars.",
              "Worth every penny.", "I would recommend it to anyone.",
              "Buy it, you will not regret it.", "Great value for money."),
    bad_end=("Save your money.", "Do not buy this.", "One star.", "I am returning it.",
             "Avoid this brand.", "What a waste of money!", "I want a refund."),
    neutral_sentences=("It came with a short manual and a cable.", "It weighs about two pounds.",
                       "I use it mostly on weekends.", "It comes in black, white and blue.",
                       "The box included a small card with instructions.",
                       "I bought it on sale.", "Delivery took four days.",
                       "I had been looking for one for a while."),
    i_openings=("After {duration} with this {item}, I", "After using this {item} for {duration}, I",
                "Now that I have had this {item} for {duration}, I",
                "Having used this {item} every day for {duration}, I"),
    and_openings=("I {verb} this {item} {time} and", "I {verb} this {item} for {companion} and",
                  "We {verb} this {item} {time} and", "My {item} arrived {time} and",
                  "I got this {item} as a gift and", "I {verb} a new {item} {time} and"),
)

FILM = Domain(
    name="film",
    items=("film", "movie", "documentary", "comedy", "thriller", "drama", "horror movie",
           "animated film", "musical", "western", "romantic comedy", "science fiction film",
           "war film", "crime drama", "mystery film", "family film", "superhero movie",
           "action movie", "short film", "spy movie"),
    item_kind="story",
    aspects=(
        _n("acting", "craft"), _n("plot", "story"), _n("script", "craft"), _n("story", "story"),
        _n("soundtrack", "sound"), _n("music", "sound"), _n("ending", "story"),
        _n("dialogue", "craft"), _pl("special effects", "visual"), _n("cinematography", "visual"),
        _n("camera work", "visual"), _n("lead actor", "craft"), _n("lead actress", "craft"),
        _n("supporting cast", "craft"), _n("directing", "craft"), _n("pacing", "story"),
        _n("first half", "story"), _n("final scene", "story"), _pl("characters", "story"),
        _pl("jokes", "story"), _pl("costumes", "visual"), _n("villain", "craft"),
        _n("twist", "story"), _n("opening scene", "story"), _pl("fight scenes", "visual"),
        _pl("songs", "sound"), _n("animation", "visual"), _n("second half", "story"),
    ),
    prep=("in", "of"),
    verb_past=("watched", "saw"),
    verb_pp=("seen", "watched"),
    durations=("two hours", "an evening", "a whole weekend"),
    person_clauses=("the actor who played the villain", "the actress who played the mother",
                    "the boy who played the young hero", "the man who played the detective",
                    "the woman who played the queen"),
    good_vps=("kept me on the edge of my seat", "made me laugh from start to finish",
              "moved me to tears", "stayed with me for days", "was worth every minute",
              "exceeded all my expectations", "deserves every award it gets",
              "had the whole audience cheering", "made me fall in love with cinema again"),
    bad_vps=("put me to sleep", "dragged on for far too long", "felt like a waste of two hours",
             "made no sense at all", "never really got going", "was a complete waste of time",
             "ruined a great idea", "had me checking my watch every five minutes",
             "tried too hard to be clever"),
    good_and=("I loved every minute of it", "it was even better than the book",
              "I want to see it again", "it made me laugh out loud",
              "the whole audience clapped at the end", "I was smiling all the way home"),
    bad_and=("I almost fell asleep", "I regretted it within twenty minutes",
             "half the audience walked out", "I hated almost every minute of it",
             "I kept checking my watch", "it was a huge disappointment"),
    neutral_and=("I did not know much about it before", "it was longer than I expected",
                 "we got popcorn and sat near the back", "it was my first time seeing it",
                 "the cinema was about half full", "we bought tickets at the door"),
    good_i=("can honestly say it is one of the best films of the year",
            "still think about the ending", "want to watch it again",
            "would recommend it to anyone", "was smiling from ear to ear"),
    bad_i=("wished I had stayed at home", "wanted those two hours back",
           "cannot recommend it to anyone", "felt completely cheated",
           "could not wait to leave"),
    good_end=("I would happily watch it again.", "Go and see it!", "Do not miss this one.",
              "Ten out of ten.", "It is a must see.", "Highly recommended!"),
    bad_end=("Save your money.", "Skip this one.", "I would not watch it again.",
             "Two hours I will never get back.", "Avoid it.", "What a waste of time!"),
    neutral_sentences=("It runs for about two hours.", "It is based on a novel from the eighties.",
                       "The story takes place in a small coastal town.",
                       "We watched it at the cinema downtown.", "It is the director's third film.",
                       "Most of it was filmed in the mountains.", "It is rated for ages twelve and up."),
    i_openings=("After watching this {item} twice, I", "When the credits rolled, I",
                "By the end of this {item}, I", "Halfway through this {item}, I",
                "As soon as this {item} ended, I"),
    and_openings=("I {verb} this {item} with {companion} and", "We {verb} this {item} {time} and",
                  "I {verb} the new {item} {time} and", "We went to see this {item} {time} and",
                  "I rented this {item} {time} and", "My {companion} and I {verb} this {item} and"),
)

RESTAURANT = Domain(
    name="restaurant",
    items=("restaurant", "cafe", "bistro", "diner", "pizza place", "sushi bar", "bakery",
           "steakhouse", "noodle shop", "little place", "family restaurant", "burger joint",
           "taco stand", "tea room", "seafood restaurant", "Italian restaurant",
           "Thai restaurant", "Indian restaurant", "Mexican restaurant", "Greek taverna",
           "French bistro", "vegan cafe", "ramen bar", "food truck", "pub", "coffee shop"),
    item_kind="venue",
    aspects=(
        _n("pasta", "food"), _n("pizza", "food"), _n("soup", "food"), _n("burger", "food"),
        _pl("fries", "food"), _n("salad", "food"), _n("steak", "food"), _pl("noodles", "food"),
        _n("curry", "food"), _n("fish", "food"), _n("dessert", "food"),
        _n("chocolate cake", "food"), _n("coffee", "food"), _n("bread", "food"),
        _pl("tacos", "food"), _pl("dumplings", "food"), _n("sushi", "food"),
        _pl("pancakes", "food"), _n("lamb", "food"), _n("chicken", "food"),
        _n("risotto", "food"), _n("lasagna", "food"), _n("ramen", "food"),
        _n("omelette", "food"), _n("cheesecake", "food"), _n("apple pie", "food"),
        _n("ice cream", "food"), _n("garlic bread", "food"), _n("seafood platter", "food"),
        _n("house wine", "food"), _n("lemonade", "food"), _n("breakfast", "food"),
        _pl("sandwiches", "food"), _n("sauce", "food"), _n("rice", "food"),
        _n("service", "service"), _n("waiter", "person"), _n("waitress", "person"),
        _pl("staff", "person"), _n("owner", "person"), _n("chef", "person"),
        _pl("portions", "portion"), _pl("prices", "price"), _n("atmosphere", "venue"),
        _n("music", "sound"), _n("menu", "general"), _n("wine list", "general"),
        _n("decor", "visual"), _n("wait", "service"), _n("bill", "price"),
        _n("terrace", "venue"), _n("dining room", "venue"),
        _n("mushroom soup", "food"), _n("tomato salad", "food"), _pl("meatballs", "food"),
        _n("lobster", "food"), _pl("oysters", "food"), _n("goulash", "food"),
        _n("paella", "food"), _n("tiramisu", "food"), _pl("spring rolls", "food"),
        _n("falafel", "food"), _n("hummus", "food"), _n("kebab", "food"), _n("burrito", "food"),
        _pl("waffles", "food"), _n("milkshake", "food"), _n("espresso", "food"),
        _n("cappuccino", "food"), _pl("croissants", "food"), _n("porridge", "food"),
        _n("brisket", "food"), _pl("ribs", "food"), _n("mango sorbet", "food"),
        _n("bartender", "person"), _n("hostess", "person"), _n("patio", "venue"),
    ),
    prep=("at",),
    verb_past=("had dinner at", "had lunch at", "ate at", "tried", "went to", "had breakfast at"),
    verb_pp=("eaten at", "been to"),
    durations=("an evening", "a long lunch"),
    person_clauses=("the waiter who took our order", "the woman who brought our drinks",
                    "the man at the door", "the chef who came out to say hello",
                    "the young waitress who served us", "the owner who greeted us"),
    good_vps=("made us feel welcome from the moment we walked in",
              "served the best soup I have ever tasted", "was worth every penny",
              "exceeded all our expectations", "is now our favorite place in town",
              "turned a normal evening into a real treat"),
    bad_vps=("was a huge disappointment", "served us cold food and stale bread",
             "charged us far too much for tiny portions", "made us wait over an hour",
             "got our order wrong twice", "ruined my birthday dinner"),
    good_and=("the food was amazing", "everything was delicious", "we loved every bite",
              "we will definitely be back", "it was the best meal I have had in years",
              "the staff made us feel at home", "we left very happy"),
    bad_and=("the food was awful", "we waited an hour for our food", "everything was cold",
             "we left still hungry", "it was the worst meal I have had in years",
             "the waiter was rude to us", "we will never go back"),
    neutral_and=("we sat by the window", "we ordered three dishes to share", "it was quite busy",
                 "we paid about forty dollars", "we got a table near the kitchen",
                 "we ordered the set menu"),
    good_i=("can honestly say it was the best meal of the year", "cannot wait to go back",
            "would recommend it to anyone", "left with a big smile"),
    bad_i=("would not go back even if it were free", "left hungry and angry",
           "regret every penny we spent", "will never eat there again"),
    good_end=("We will definitely be back.", "I cannot wait to go back.", "Highly recommended!",
              "Five stars.", "Do not miss the dessert.", "A real gem."),
    bad_end=("We will never go back.", "Avoid this place.", "One star, and that is generous.",
             "Eat somewhere else.", "Never again.", "What a waste of money!"),
    neutral_sentences=("We arrived at about seven o'clock.", "The menu changes every week.",
                       "It is a short walk from the station.", "We had a table for four.",
                       "They do not take reservations.", "Parking is on the street.",
                       "The kitchen closes at ten.", "There were about twenty people there."),
    item_locations=("around the corner", "near my office", "on Main Street", "by the river",
                    "downtown", "next to the station", "in the old town", "near the harbor"),
    experiences=("our dinner at the {item}", "our lunch at this {item}",
                 "my first visit to this {item}", "our evening at the {item}",
                 "breakfast at this {item}"),
    i_openings=("After two visits to this {item}, I", "When the bill arrived, I",
                "By the time dessert came, I", "As we walked out of this {item}, I"),
    and_openings=("We {verb} this {item} {time} and", "I {verb} this {item} {time} and",
                  "My {companion} and I {verb} the new {item} {time} and",
                  "We {verb} the {item} {location} and", "I ordered the {dish} and",
                  "We ordered the {dish} and the {dish2} and",
                  "We {verb} this {item} in {city} and"),
)

BOOK = Domain(
    name="book",
    items=("novel", "book", "memoir", "cookbook", "mystery novel", "biography",
           "collection of short stories", "fantasy novel", "history book", "children's book",
           "poetry collection", "detective story", "love story", "thriller", "travel book",
           "science fiction novel", "graphic novel", "debut novel", "essay collection"),
    item_kind="story",
    aspects=(
        _n("writing", "craft"), _n("plot", "story"), _pl("characters", "story"),
        _n("ending", "story"), _n("main character", "story"), _n("first chapter", "story"),
        _n("pacing", "story"), _n("dialogue", "craft"), _pl("descriptions", "craft"),
        _n("cover", "visual"), _n("translation", "craft"), _pl("last few chapters", "story"),
        _n("prose", "craft"), _n("twist", "story"), _pl("illustrations", "visual"),
        _n("villain", "story"), _n("narrator", "story"), _n("middle section", "story"),
        _n("story", "story"), _n("style", "craft"), _n("humor", "story"),
        _n("world building", "story"), _n("love story", "story"), _n("research", "craft"),
    ),
    prep=("in", "of"),
    verb_past=("read", "finished", "picked up", "borrowed"),
    verb_pp=("read",),
    durations=("a week", "two weekends", "a month", "three days"),
    person_clauses=("the character who tells the story", "the girl who finds the letters",
                    "the old man who runs the shop", "the detective who solves the case",
                    "the author who wrote it"),
    good_vps=("kept me up late every night", "made me laugh and cry",
              "stayed with me long after I finished it", "was impossible to put down",
              "changed the way I think about my family", "was a joy to read from start to finish"),
    bad_vps=("put me to sleep", "took forever to get going", "felt like homework",
             "was a struggle to finish", "never lived up to its promise",
             "was full of silly mistakes"),
    good_and=("I could not put it down", "I finished it in two days", "I loved every page",
              "I have already bought the sequel", "I have recommended it to all my friends"),
    bad_and=("I gave up after fifty pages", "I regret every minute I spent on it",
             "I almost stopped halfway", "I found it painfully dull",
             "it bored me to tears"),
    neutral_and=("it took me about two weeks to finish", "it is about three hundred pages long",
                 "I read most of it on the train", "it was chosen by my book club",
                 "I read it in the evenings"),
    good_i=("can honestly say it is one of the best books I have read",
            "could not stop thinking about the characters", "want to read it again",
            "would recommend it to anyone"),
    bad_i=("wished I had chosen something else", "felt like I had wasted a week",
           "cannot recommend it to anyone", "was glad it was over"),
    good_end=("I cannot wait to read the sequel.", "Read it!", "Highly recommended.",
              "It is a true gem.", "Five stars.", "A wonderful read."),
    bad_end=("Do not waste your time.", "I will not read anything else by this author.",
             "Skip it.", "It went straight back to the library.", "Two stars at most.",
             "What a waste of paper!"),
    neutral_sentences=("It is about three hundred pages long.", "It was first published in Spanish.",
                       "The story is set in a small village by the sea.",
                       "I read it for my book club.", "It is the second book in a series.",
                       "The chapters are quite short.", "I borrowed it from the library."),
    experiences=("reading this {item}", "my week with this {item}"),
    i_openings=("After finishing this {item}, I", "By the last chapter, I",
                "Halfway through this {item}, I", "When I closed this {item}, I"),
    and_openings=("I {verb} this {item} {time} and", "I {verb} this {item} on holiday and",
                  "I picked up this {item} at the library and",
                  "I bought this {item} at the airport and",
                  "My {companion} gave me this {item} and", "I read the new {item} {time} and"),
)

HOTEL = Domain(
    name="hotel",
    items=("hotel", "inn", "resort", "guesthouse", "motel", "bed and breakfast", "hostel",
           "beach resort", "city hotel", "mountain lodge", "boutique hotel", "airport hotel",
           "country inn", "holiday apartment", "lake house", "spa hotel"),
    item_kind="venue",
    aspects=(
        _n("room", "room"), _n("bed", "room"), _n("breakfast", "food"), _pl("staff", "person"),
        _n("pool", "venue"), _n("view", "visual"), _n("location", "venue"),
        _n("bathroom", "room"), _n("front desk", "service"), _n("shower", "device"),
        _n("wifi", "device"), _n("parking", "service"), _n("lobby", "venue"),
        _n("check in", "service"), _n("neighborhood", "venue"), _n("receptionist", "person"),
        _pl("cleaning staff", "person"), _n("bar", "venue"), _n("restaurant", "venue"),
        _n("balcony", "room"), _pl("towels", "room"), _pl("sheets", "room"),
        _n("air conditioning", "device"), _n("garden", "venue"), _n("spa", "venue"),
        _n("room service", "service"), _pl("prices", "price"), _n("dinner", "food"),
    ),
    prep=("at",),
    verb_past=("stayed at", "booked", "spent a weekend at", "checked into"),
    verb_pp=("stayed at", "been to"),
    durations=("two nights", "three days", "a week", "a long weekend", "five nights", "ten days"),
    person_clauses=("the woman at the front desk", "the man who checked us in",
                    "the cleaner who looked after our room", "the manager who spoke to us",
                    "the young man who carried our bags"),
    good_vps=("made us feel at home", "was the perfect base for exploring the city",
              "exceeded all our expectations", "was worth every penny",
              "looked even better than the photos", "made our holiday special"),
    bad_vps=("looked nothing like the photos", "ruined our whole trip",
             "was a complete waste of money", "lost our booking",
             "charged us twice for the same night", "was falling apart"),
    good_and=("we loved every minute of it", "the staff treated us like family",
              "we already want to go back", "everything was perfect",
              "we slept better than at home"),
    bad_and=("the room was filthy", "we barely slept because of the noise",
             "we checked out a day early", "nothing worked properly",
             "the staff were rude to us"),
    neutral_and=("we arrived late in the evening", "our room was on the third floor",
                 "it was a short walk from the station", "we paid for breakfast separately",
                 "we mostly used it as a base"),
    good_i=("can honestly say it was the best hotel we have stayed at",
            "did not want to leave", "would stay there again in a heartbeat",
            "would recommend it to anyone"),
    bad_i=("could not wait to leave", "would never stay there again",
           "wanted our money back", "wished we had stayed somewhere else"),
    good_end=("We will definitely stay here again.", "Highly recommended!",
              "Book it, you will not regret it.", "Five stars.", "We loved it."),
    bad_end=("Never again.", "Stay somewhere else.", "Avoid this place at all costs.",
             "One star.", "What a nightmare!"),
    neutral_sentences=("We stayed for three nights in July.", "Check in is at three o'clock.",
                       "The hotel has about forty rooms.", "Our room faced the street.",
                       "Breakfast is served from seven to ten.",
                       "We came by train and walked from the station.",
                       "There is a small shop across the road."),
    item_locations=("near the station", "by the beach", "in the old town", "near the airport",
                    "on the hill", "by the lake", "in the city center"),
    experiences=("my stay at the {item}", "our weekend at this {item}",
                 "our two nights at the {item}", "our visit to this {item}",
                 "our week at the {item}"),
    i_openings=("After {duration} at this {item}, I", "When we checked out of this {item}, I",
                "By the end of our stay, I", "As soon as we walked into the room, I"),
    and_openings=("We {verb} this {item} for {duration} and", "We {verb} this {item} {time} and",
                  "I {verb} this {item} for a work trip and",
                  "My {companion} and I {verb} the {item} {location} and",
                  "We booked a room at this {item} {time} and",
                  "We {verb} this {item} in {city} for {duration} and"),
)

DOMAINS: tuple[Domain, ...] = (PRODUCT, FILM, RESTAURANT, BOOK, HOTEL)
DOMAIN_WEIGHTS: tuple[float, ...] = (0.26, 0.2, 0.22, 0.16, 0.16)

# ---------------------------------------------------------------------------
# Review generation
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Opening:
    """A review opening and how it must be completed.

    ``mode`` is one of ``"copula"`` (ends in was/is), ``"subject"`` (a noun
    phrase that needs a predicate), ``"and"`` (a clause ending in "and") or
    ``"i"`` (ends in the subject "I").
    """

    text: str
    mode: str
    subject: Noun | None = None
    is_item: bool = False


class _Review:
    """Builds the sentences of one review about a single item."""

    def __init__(self, rng: random.Random, domain: Domain, item: str) -> None:
        self.rng = rng
        self.d = domain
        self.item = item
        self.item_noun = _n(item, domain.item_kind)
        self.parts: tuple[Noun, ...] = PRODUCT_PARTS.get(item, ()) if domain is PRODUCT else ()
        self.aspects: tuple[Noun, ...] = self.parts + domain.aspects
        self.used: set[Noun] = set()

    # -- choices -----------------------------------------------------------------

    def pick(self, seq: Sequence[str]) -> str:
        return self.rng.choice(seq)

    def aspect(self, exclude: Noun | None = None) -> Noun:
        """An aspect of the item, preferring ones this review has not mentioned."""
        pool = self.aspects
        if self.parts and self.rng.random() < 0.5:
            pool = self.parts
        for _ in range(10):
            a = self.rng.choice(pool)
            if a != exclude and a not in self.used:
                break
        self.used.add(a)
        return a

    def adj(self, kind: str, pol: int, gradable_only: bool = False, adverb: bool = True) -> str:
        """An adjective phrase of polarity ``pol`` suited to nouns of ``kind``."""
        if pol == NEU:
            return self.pick(NEUTRAL_ADJ)
        table = ADJ.get(kind, ADJ["general"])
        if kind != "general" and self.rng.random() < 0.3:
            table = ADJ["general"]
        grad, extreme = table[pol]
        if gradable_only or self.rng.random() < 0.6:
            word = self.pick(grad)
            if adverb and self.rng.random() < 0.5:
                adverbs = GRADABLE_ADVERBS
                if pol == NEG and self.rng.random() < 0.3:
                    adverbs = MILD_NEGATIVE_ADVERBS
                word = f"{self.pick(adverbs)} {word}"
            return word
        word = self.pick(extreme)
        if adverb and self.rng.random() < 0.3 and not word.startswith("a "):
            word = f"{self.pick(EXTREME_ADVERBS)} {word}"
        return word

    def two_adj(self, kind: str, pol: int) -> str:
        first = self.adj(kind, pol)
        for _ in range(10):
            second = self.adj(kind, pol, adverb=False)
            if second.split()[-1] not in first.split():
                break
        return f"{first} and {second}"

    def the(self, noun: Noun) -> str:
        if self.rng.random() < 0.15 and noun in self.parts:
            return f"the {noun.text} on this {self.item}"
        return f"the {noun.text}"

    def fill(self, template: str) -> str:
        """Fill ``{item}``, ``{time}``, ... slots of a domain template."""
        dishes = [a.text for a in self.d.aspects if a.kind == "food"] or ["special"]
        dish = self.pick(dishes)
        dish2 = self.pick([x for x in dishes if x != dish] or dishes)
        return template.format(
            item=self.item,
            time=self.pick(TIMES),
            duration=self.pick(self.d.durations),
            companion=self.companion(bare="My {companion}" in template),
            verb=self.pick(self.d.verb_past),
            location=self.pick(self.d.item_locations or ("in town",)),
            dish=dish,
            dish2=dish2,
            city=self.pick(CITIES),
            month=self.pick(MONTHS),
            weekday=self.pick(WEEKDAYS),
            number=self.pick(NUMBERS),
            color=self.pick(COLORS),
        )

    def companion(self, bare: bool = False) -> str:
        """A companion such as "my sister"; ``bare`` drops the "my" ("sister")."""
        if bare:
            return self.pick([c for c in COMPANIONS if c.startswith("my ")])[3:]
        return self.pick(COMPANIONS)

    # -- openings ------------------------------------------------------------------

    def item_np(self) -> str:
        """A noun phrase for the reviewed item, e.g. "the cafe near my office"."""
        r = self.rng.random()
        d = self.d
        if r < 0.4:
            return f"this {self.item}"
        if r < 0.5:
            return f"the {self.item}"
        if r < 0.6:
            return f"this new {self.item}" if d is not RESTAURANT else f"this little {self.item}"
        if r < 0.7 and d is PRODUCT:
            return f"my new {self.item}"
        if r < 0.8 and d.item_locations:
            if self.rng.random() < 0.3:
                return f"the {self.item} in {self.pick(CITIES)}"
            return f"the {self.item} {self.pick(d.item_locations)}"
        who = "we" if d in (RESTAURANT, HOTEL) else "I"
        verb = self.pick(d.verb_past)
        if d is RESTAURANT:
            verb = self.pick(("tried", "went to", "ate at"))
        if d is HOTEL:
            verb = self.pick(("stayed at", "booked"))
        return f"the {self.item} {who} {verb} {self.pick(TIMES)}"

    def aspect_np(self, noun: Noun) -> str:
        prep = self.pick(self.d.prep)
        r = self.rng.random()
        if r < 0.3:
            return f"the {noun.text}"
        if r < 0.75:
            return f"the {noun.text} {prep} this {self.item}"
        if r < 0.9 and self.d.item_locations:
            return f"the {noun.text} {prep} the {self.item} {self.pick(self.d.item_locations)}"
        return f"the {noun.text} {prep} the {self.item}"

    def opening(self) -> Opening:
        """A review opening; its text stops right before the judgement."""
        d = self.d
        r = self.rng.random()
        if r < 0.22:
            return Opening(_cap(self.item_np()), "subject", self.item_noun, True)
        if r < 0.42:
            noun = self.aspect()
            return Opening(_cap(self.aspect_np(noun)), "subject", noun, False)
        if r < 0.62:
            if self.rng.random() < 0.3:
                np_, noun, is_item = self.item_np(), self.item_noun, True
            else:
                noun = self.aspect()
                np_, is_item = self.aspect_np(noun), False
            past = not (d is PRODUCT and self.rng.random() < 0.4)
            return Opening(f"{_cap(np_)} {_be(noun, past)}", "copula", noun, is_item)
        if r < 0.7 and d.experiences:
            exp = self.fill(self.pick(d.experiences))
            return Opening(_cap(exp), "subject", _n(exp, "experience"), False)
        if r < 0.88:
            return Opening(self.fill(self.pick(d.and_openings)), "and")
        return Opening(self.fill(self.pick(d.i_openings)), "i")

    def complete(self, op: Opening, pol: int, mixed: bool) -> str:
        """Complete an opening into a full sentence of polarity ``pol``."""
        if op.mode == "and":
            pool = {POS: self.d.good_and, NEG: self.d.bad_and, NEU: self.d.neutral_and}[pol]
            return f"{op.text} {self.pick(pool)}{self.end_mark(pol)}"
        if op.mode == "i":
            if pol == NEU:
                pol = self.rng.choice((POS, NEG))
            pool = self.d.good_i if pol == POS else self.d.bad_i
            return f"{op.text} {self.pick(pool)}."
        assert op.subject is not None
        noun = op.subject
        if op.mode == "subject":
            if op.is_item and pol != NEU and self.rng.random() < 0.5:
                vps = self.d.good_vps if pol == POS else self.d.bad_vps
                return f"{op.text} {self.pick(vps)}{self.end_mark(pol)}"
            head = f"{op.text} {_be(noun)}"
        else:
            head = op.text
        text = f"{head} {self.adj(noun.kind, pol)}"
        return text + self.tail(noun, pol, mixed)

    def tail(self, noun: Noun, pol: int, mixed: bool) -> str:
        """Optionally extend a clause with a second clause, then end it."""
        r = self.rng.random()
        if pol == NEU:
            return "."
        if r < 0.2:
            other = self.aspect(exclude=noun)
            return f", and {self.the(other)} {_be(other)} {self.adj(other.kind, pol)} too."
        if r < 0.35 or (mixed and r < 0.6):
            other = self.aspect(exclude=noun)
            return f", but {self.the(other)} {_be(other)} {self.adj(other.kind, -pol)}."
        if r < 0.45:
            pool = self.d.good_and if pol == POS else self.d.bad_and
            return f" and {self.pick(pool)}."
        if r < 0.55:
            other = self.aspect(exclude=noun)
            return f", while {self.the(other)} {_be(other)} {self.adj(other.kind, pol)}."
        return self.end_mark(pol)

    def end_mark(self, pol: int) -> str:
        return "!" if pol != NEU and self.rng.random() < 0.12 else "."

    # -- body sentences ------------------------------------------------------------

    def sentence(self, pol: int) -> str:
        """One body sentence of polarity ``pol`` (NEU gives a neutral one)."""
        if pol == NEU:
            return self.neutral_sentence()
        builders = (
            (self.s_copula, 4), (self.s_two_adj, 2), (self.s_contrast, 2),
            (self.s_although, 1), (self.s_feel, 2), (self.s_exclaim, 1),
            (self.s_negation, 2), (self.s_question, 1), (self.s_person, 1),
            (self.s_because, 1), (self.s_compare, 1), (self.s_item_vp, 2),
            (self.s_not_only, 1), (self.s_made_me, 1),
        )
        fns = [b for b, _ in builders]
        weights = [w for _, w in builders]
        return self.rng.choices(fns, weights)[0](pol)

    def s_copula(self, pol: int) -> str:
        a = self.aspect()
        return _cap(f"{self.the(a)} {_be(a)} {self.adj(a.kind, pol)}{self.tail(a, pol, False)}")

    def s_two_adj(self, pol: int) -> str:
        a = self.aspect()
        return _cap(f"{self.the(a)} {_be(a)} {self.two_adj(a.kind, pol)}{self.end_mark(pol)}")

    def s_contrast(self, pol: int) -> str:
        a = self.aspect()
        b = self.aspect(exclude=a)
        conj = self.pick(("but", "but", "although", "yet"))
        return _cap(f"{self.the(a)} {_be(a)} {self.adj(a.kind, -pol)}, {conj} "
                    f"{self.the(b)} {_be(b)} {self.adj(b.kind, pol)}.")

    def s_although(self, pol: int) -> str:
        a = self.aspect()
        b = self.aspect(exclude=a)
        conj = self.pick(("Although", "Even though", "While"))
        return (f"{conj} {self.the(a)} {_be(a)} {self.adj(a.kind, -pol)}, "
                f"{self.the(b)} {_be(b)} {self.adj(b.kind, pol)}.")

    def s_feel(self, pol: int) -> str:
        a = self.aspect()
        who = self.pick(("I", "I", "We"))
        if pol == POS:
            verb = self.pick(("loved", "really loved", "absolutely loved", "enjoyed",
                              "really enjoyed", "adored", "liked", "appreciated"))
        else:
            verb = self.pick(("hated", "really hated", "disliked", "could not stand",
                              "did not like", "did not enjoy", "was disappointed by"))
            if who == "We" and verb.startswith("was"):
                verb = "were" + verb[3:]
        return f"{who} {verb} {self.the(a)}{self.end_mark(pol)}"

    def s_exclaim(self, pol: int) -> str:
        r = self.rng.random()
        if r < 0.45:
            adj = self.adj(self.d.item_kind, pol, adverb=False)
            if adj.startswith("a "):
                adj = self.adj("general", pol, adverb=False)
            return f"What {_article(adj + ' ' + self.item)}!"
        if r < 0.7:
            word = self.pick(ADJ["general"][pol][1])
            adv = self.pick(("Simply", "Just", "Absolutely", "Truly"))
            return f"{adv} {word}!"
        if pol == POS:
            return self.pick(("I loved it!", "Wow, what a treat!", "Absolutely loved it!",
                              "What a pleasant surprise!", "Pure joy!", "Highly recommended!"))
        return self.pick(("What a waste of money!", "What a waste of time!", "Never again!",
                          "What a letdown!", "I hated it!", "Ugh, what a mess!"))

    def s_negation(self, pol: int) -> str:
        a = self.aspect()
        head = f"{_cap(self.the(a))} {_be(a)}"
        opp = self.adj(a.kind, -pol, gradable_only=True, adverb=False)
        r = self.rng.random()
        if pol == POS:
            if r < 0.4:
                return f"{head} not {opp} at all."
            if r < 0.7:
                return f"{head} not {opp}, in fact {_pron(a)} {_be(a)} {self.adj(a.kind, POS)}."
            return f"To be honest, {self.the(a)} {_be(a)} not bad at all."
        if r < 0.35:
            return f"{head} not {opp} at all."
        if r < 0.7:
            return f"{head} not as {opp} as I had hoped."
        return f"{head} not very {opp}, and {_pron(a)} {_be(a)} {self.adj(a.kind, NEG)}."

    def s_question(self, pol: int) -> str:
        if pol == POS:
            return self.pick((
                "Could it get any better?", "What more could you ask for?",
                f"Who knew {_article(self.item)} could be this good?",
                "Was it worth it? Absolutely.", "Would I go back? In a heartbeat.",
                f"Why did I not find this {self.item} sooner?",
                f"Is this the best {self.item} around? I think so.",
            ))
        return self.pick((
            "What were they thinking?", "Who thought this was a good idea?",
            "Was it worth it? Not at all.", f"Why would anyone pay for this {self.item}?",
            "How is this even allowed?", f"Why did I ever choose this {self.item}?",
            f"Would I recommend this {self.item}? Never.",
            f"Why did we ever say yes to this {self.item}?",
        ))

    def s_person(self, pol: int) -> str:
        who = self.pick(self.d.person_clauses)
        return f"{_cap(who)} was {self.adj('person', pol)}{self.end_mark(pol)}"

    def s_because(self, pol: int) -> str:
        a = self.aspect()
        clause = f"{self.the(a)} {_be(a)} {self.adj(a.kind, pol)}"
        if pol == POS:
            result = self.pick(("we had a wonderful time", "I was in a great mood all day",
                                "I left with a big smile", "we were very happy",
                                "it felt like a real treat", "I would happily come back"))
        else:
            result = self.pick(("the whole thing was ruined", "I was in a bad mood all day",
                                "we left feeling disappointed", "I was really annoyed",
                                "it felt like a waste of money", "I will not come back"))
        if self.rng.random() < 0.5:
            return f"Because {clause}, {result}."
        return f"{_cap(result)} because {clause}."

    def s_compare(self, pol: int) -> str:
        pp = self.pick(self.d.verb_pp)
        r = self.rng.random()
        if r < 0.4:
            deg = self.pick(("much", "far", "a lot", "even"))
            word = "better" if pol == POS else "worse"
            return f"It was {deg} {word} than I expected."
        if r < 0.75:
            sup = "best" if pol == POS else "worst"
            return f"This is the {sup} {self.item} I have ever {pp}."
        if pol == POS:
            return f"It is one of the nicest {self.item}s I have {pp} in years."
        return f"I have never {pp} such a disappointing {self.item}."

    def s_item_vp(self, pol: int) -> str:
        vps = self.d.good_vps if pol == POS else self.d.bad_vps
        subj = self.pick(("It", "It", f"This {self.item}", f"The {self.item}"))
        return f"{subj} {self.pick(vps)}{self.end_mark(pol)}"

    def s_not_only(self, pol: int) -> str:
        a = self.aspect()
        b = self.aspect(exclude=a)
        return (f"Not only {_be(a)} {self.the(a)} {self.adj(a.kind, pol)}, but "
                f"{self.the(b)} {_be(b)} also {self.adj(b.kind, pol, adverb=False)}.")

    def s_made_me(self, pol: int) -> str:
        a = self.aspect()
        if pol == POS:
            effect = self.pick(("made me smile", "made me so happy", "made my day",
                                "put me in a great mood", "was a real highlight"))
        else:
            effect = self.pick(("made me angry", "made me want to leave",
                                "ruined the whole experience", "put me in a bad mood",
                                "was the worst part"))
        return f"{_cap(self.the(a))} {effect}."

    def neutral_sentence(self) -> str:
        r = self.rng.random()
        if r < 0.3:
            return self.pick(self.d.neutral_sentences)
        if r < 0.45:
            pool = GENERAL_NEUTRAL
            if self.d is not PRODUCT:
                pool = tuple(t for t in pool if "{color}" not in t)
            return self.fill(self.pick(pool))
        if r < 0.7:
            a = self.aspect()
            return f"{_cap(self.the(a))} {_be(a)} {self.pick(NEUTRAL_ADJ)}."
        if r < 0.85:
            a = self.aspect()
            b = self.aspect(exclude=a)
            return (f"{_cap(self.the(a))} {_be(a)} not bad, but {self.the(b)} "
                    f"{_be(b)} nothing special either.")
        return self.pick(("It was fine, I suppose.", "It was okay, nothing special.",
                          "Overall it was about average.", "It did the job.",
                          "I have mixed feelings about it.", "It was neither great nor terrible."))

    def ending(self, pol: int) -> str:
        if pol == NEU:
            return self.pick(("Three stars.", "It was fine overall.", "Maybe worth a try.",
                              "Your experience may vary.", "I might try it again someday."))
        return self.pick(self.d.good_end if pol == POS else self.d.bad_end)


REVIEW_STYLES: tuple[str, ...] = ("pos", "neg", "mixed", "neutral")


def _review_labelled(rng: random.Random) -> tuple[str, int, str]:
    """Build one review; return ``(text, label, style)``.

    ``style`` is one of :data:`REVIEW_STYLES` and ``label`` is the review's
    overall polarity: ``POS`` for "pos", ``NEG`` for "neg", ``NEU`` for
    "neutral" and, for "mixed", the review's *base* polarity (see
    :func:`labelled_reviews`).  The RNG is consumed exactly as :func:`_review`
    always did, so documents generated by :func:`generate_documents` do not
    depend on whether labels are asked for.
    """
    domain = rng.choices(DOMAINS, DOMAIN_WEIGHTS)[0]
    rv = _Review(rng, domain, rng.choice(domain.items))
    style = rng.choices(("pos", "neg", "mixed", "neutral"), (0.38, 0.34, 0.18, 0.10))[0]
    base = {"pos": POS, "neg": NEG, "mixed": rng.choice((POS, NEG)), "neutral": NEU}[style]
    mixed = style == "mixed"
    n_sent = rng.randint(2, 5)

    def body_pol(i: int) -> int:
        if style == "mixed":
            return base if i % 2 == 0 else -base
        if style == "neutral":
            return NEU if rng.random() < 0.7 else rng.choice((POS, NEG))
        return base

    sentences: list[str] = []
    r = rng.random()
    if r < 0.65:
        sentences.append(rv.complete(rv.opening(), base, mixed))
    elif r < 0.85:
        sentences.append(rv.neutral_sentence())
    else:
        sentences.append(rv.sentence(base))
    for i in range(1, n_sent):
        if i == n_sent - 1 and n_sent >= 3 and rng.random() < 0.45:
            final = base if style != "mixed" else rng.choice((POS, NEG, NEU))
            sentences.append(rv.ending(final))
        else:
            sentences.append(rv.sentence(body_pol(i)))
    return " ".join(sentences), base, style


def _review(rng: random.Random) -> str:
    return _review_labelled(rng)[0]


# ---------------------------------------------------------------------------
# Story generation
# ---------------------------------------------------------------------------

FEMALE_NAMES: tuple[str, ...] = (
    "Anna", "Maria", "Lucy", "Nora", "Emma", "Mia", "Ella", "Grace", "Sofia", "Lily",
    "Priya", "Hannah", "Olivia", "Chloe", "Zoe", "Clara", "Rosa", "Amira", "Yuki", "Leila",
    "Sara", "Julia", "Eva", "Ruby", "Alice", "Maya", "Ivy", "Elena", "Fatima", "Ada",
    "Isla", "Freya", "Nina", "Tara", "Lena", "Aisha", "Mei", "Ingrid", "Camila", "Lucia",
    "Martha", "Helen", "Rachel", "Esther", "Molly", "Daisy", "Poppy", "Iris", "Vera", "Kate",
    "Jasmine", "Naomi", "Beatrice", "Harriet", "Sophie", "Paula", "Greta", "Mira", "Anya", "Dora",
)
MALE_NAMES: tuple[str, ...] = (
    "Tom", "Sam", "Ben", "Leo", "Jack", "Oliver", "Max", "Daniel", "Henry", "Omar",
    "Kenji", "Lucas", "Noah", "Adam", "Felix", "Hugo", "Ravi", "Marco", "Theo", "Jonas",
    "Peter", "David", "Carlos", "Ali", "Oscar", "Finn", "Arthur", "Luis", "Ethan", "Milo",
    "Samuel", "George", "Victor", "Ivan", "Hassan", "Kofi", "Mateo", "Pablo", "Stefan", "Tariq",
    "Edward", "Frank", "Walter", "Harry", "Charlie", "Rufus", "Simon", "Patrick", "Gabriel", "Elias",
    "Joseph", "Martin", "Anton", "Boris", "Dmitri", "Jamal", "Arjun", "Hiro", "Tomas", "Rory",
)
ROLES_F: tuple[str, ...] = ("a little girl", "an old woman", "a young baker", "the farmer's daughter",
                            "a shy student", "the new teacher", "a retired nurse")
ROLES_M: tuple[str, ...] = ("a little boy", "an old man", "a young fisherman", "the village doctor",
                            "a tired student", "the new postman", "a retired sailor")
PLACES: tuple[str, ...] = (
    "the park", "the market", "the beach", "the forest", "the library", "the village",
    "the old bridge", "the train station", "the school", "the garden", "the lake",
    "the city", "the farm", "the mountain", "the harbor", "the bakery", "the museum",
    "the zoo", "the river", "the square", "the hospital", "the old castle", "the fair",
    "the island", "the playground", "the cinema", "the post office", "the bookshop",
    "the lighthouse", "the orchard", "the meadow", "the church", "the swimming pool",
    "the old mill", "the town hall", "the valley", "the airport", "the stadium", "the cafe",
    "the bakery on the corner", "the bus stop", "the hill", "the pier", "the greenhouse",
)
STORY_TIMES: tuple[str, ...] = (
    "One morning", "On a rainy afternoon", "Last summer", "Early on Sunday", "After school",
    "Late at night", "One cold winter evening", "On the first day of spring", "Long ago",
    "One day", "Every Saturday", "Just before sunset", "On a foggy morning", "That evening",
    "Once upon a time",
)
WEATHER: tuple[str, ...] = ("sunny", "cold", "windy", "warm", "cloudy", "grey", "quiet", "hot",
                            "misty", "frosty", "snowy", "humid", "stormy", "chilly", "breezy")
OBJECTS: tuple[str, ...] = (
    "old book", "silver key", "small wooden box", "red kite", "lost puppy", "letter",
    "shiny coin", "blue bicycle", "map", "music box", "kitten", "painting", "basket of apples",
    "golden ring", "photograph", "seashell", "umbrella", "notebook", "guitar", "lantern",
    "wooden flute", "pocket watch", "glass bottle", "feather", "compass", "teddy bear",
    "postcard", "pair of gloves", "violin", "chess set", "telescope", "sketchbook",
)
FIND_PLACES: tuple[str, ...] = (
    "under a tree", "behind the door", "in the grass", "near the fountain", "on a bench",
    "at the bottom of a drawer", "by the water", "in an old shop", "on the doorstep",
)
RELATIVES: tuple[str, ...] = ("grandmother", "grandfather", "brother", "sister", "mother",
                              "father", "best friend", "uncle", "aunt", "cousin", "dog")
ANIMALS: tuple[str, ...] = (
    "fox", "owl", "rabbit", "horse", "goat", "deer", "squirrel", "hedgehog", "duck", "swan",
    "beaver", "magpie", "lizard", "mole", "sparrow", "pigeon", "raccoon", "moose", "kangaroo",
    "camel", "peacock", "penguin", "wolf", "bear", "mouse", "snail", "ladybird", "crab",
    "heron", "frog", "turtle", "badger", "robin", "crow", "donkey", "lamb", "cow", "seal",
    "dolphin", "butterfly", "bee", "tortoise", "parrot", "goose", "pony", "otter",
)
ACTIVITIES: tuple[str, ...] = (
    "planted tomatoes in the garden", "baked a loaf of bread", "painted the fence",
    "cleaned the kitchen", "fixed the old radio", "went fishing at the pond",
    "knitted a scarf", "washed the car", "practiced the piano", "tidied the attic",
    "went for a long walk", "made a pot of soup", "sorted the old letters",
    "watered the flowers", "swept the yard", "repaired a chair", "folded the laundry",
    "fed the chickens", "climbed the hill behind the house", "rode a bicycle along the river",
)
SKILLS: tuple[str, ...] = (
    "play the violin", "make pancakes", "swim", "ride a horse", "carve wood", "sail a boat",
    "grow roses", "draw birds", "speak a little Italian", "juggle", "bake cookies",
    "tie a sailor's knot", "whistle a tune", "skate on the frozen pond", "fold paper cranes",
    "repair a bicycle chain", "build a birdhouse", "paint with watercolors",
)
FOODS: tuple[str, ...] = (
    "vegetable soup", "apple pie", "fresh bread", "roast chicken", "pancakes", "lemon cake",
    "spaghetti", "fish stew", "blueberry muffins", "potato salad", "rice pudding",
    "cheese sandwiches", "hot chocolate", "plum jam", "carrot cake", "pumpkin soup",
)
JOBS: tuple[str, ...] = (
    "teacher", "baker", "nurse", "carpenter", "gardener", "librarian", "fisherman", "painter",
    "mechanic", "musician", "tailor", "shopkeeper", "chef", "pilot", "photographer", "doctor",
    "plumber", "journalist", "farmer", "firefighter", "dentist", "architect", "waiter",
    "scientist", "pharmacist", "florist", "butcher", "potter", "sculptor", "engineer",
)
CONTESTS: tuple[str, ...] = ("baking contest", "school race", "chess tournament", "poetry competition",
                             "singing contest", "spelling bee", "painting competition")


@dataclass(frozen=True)
class _Character:
    name: str
    subj: str
    obj: str
    poss: str


class _Story:
    """Builds the sentences of one short story about a single character."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        female = rng.random() < 0.5
        if rng.random() < 0.85:
            name = rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        else:
            name = rng.choice(ROLES_F if female else ROLES_M)
        self.c = _Character(name, "she" if female else "he", "her" if female else "him",
                            "her" if female else "his")
        self.place = rng.choice(PLACES)
        self.friend = rng.choice(FEMALE_NAMES + MALE_NAMES)
        while self.friend == name:
            self.friend = rng.choice(FEMALE_NAMES + MALE_NAMES)

    def pick(self, seq: Sequence[str]) -> str:
        return self.rng.choice(seq)

    def fill(self, template: str) -> str:
        c = self.c
        return template.format(
            Name=_cap(c.name), name=c.name, he=c.subj, He=_cap(c.subj), him=c.obj,
            his=c.poss, His=_cap(c.poss), place=self.place, time=self.pick(STORY_TIMES),
            weather=self.pick(WEATHER), object=self.pick(OBJECTS),
            find_place=self.pick(FIND_PLACES), relative=self.pick(RELATIVES),
            contest=self.pick(CONTESTS), friend=self.friend,
            other_place=self.pick([p for p in PLACES if p != self.place]),
            city=self.pick(CITIES), month=self.pick(MONTHS), weekday=self.pick(WEEKDAYS),
            animal=self.pick(ANIMALS), activity=self.pick(ACTIVITIES), skill=self.pick(SKILLS),
            job=self.pick(JOBS), number=self.pick(NUMBERS), color=self.pick(COLORS),
            food=self.pick(FOODS),
        )

    SETUPS: tuple[str, ...] = (
        "{time}, {name} walked to {place}.",
        "{Name} lived in a small house near {place}.",
        "{time}, {name} and {his} {relative} decided to visit {place}.",
        "It was a {weather} day when {name} left the house.",
        "{Name} had always wanted to see {place}.",
        "{time}, {name} took the bus to {place}.",
        "{Name} worked at {place} and knew everyone there.",
        "{Name} woke up early and looked out of the window.",
        "{Name}, who had just moved to a new town, went to {place} for the first time.",
        "Every morning, {name} passed {place} on the way to work.",
        "{Name} grew up in {city} but now lived near {place}.",
        "In {month}, {name} traveled to {city} to visit {his} {relative}.",
        "{Name} was a {job} in {city}.",
        "On {weekday}, {name} had the whole day off.",
        "{Name} was {number} years old and lived next to {place}.",
        "{Name} had a {color} coat that {he} wore everywhere.",
    )
    GOOD_EVENTS: tuple[str, ...] = (
        "{He} found a {object} {find_place}.",
        "{He} met an old friend named {friend}, who gave {him} a warm hug.",
        "The sun came out and everything looked beautiful.",
        "A kind stranger helped {him} carry the heavy bags.",
        "{He} won first prize in the {contest}.",
        "{His} {relative} surprised {him} with a delicious cake.",
        "When {he} reached {place}, {he} saw that all {his} friends were waiting with balloons.",
        "{Friend} told {him} a funny story, and they laughed for a long time.",
        "{He} finally finished the painting {he} had been working on for months.",
        "Someone had left a lovely note on {his} door.",
        "{He} danced in the square while a band played happy songs.",
        "{He} got the job {he} had always dreamed of.",
        "{He} saw a {animal} {find_place}, and it did not run away.",
        "{His} {relative} taught {him} how to {skill}.",
        "{He} was invited to a wonderful party in {city}.",
        "A letter arrived from {city} with great news.",
        "{He} cooked {food} for {his} friends, and everyone loved it.",
        "{His} neighbor brought over some warm {food}.",
    )
    BAD_EVENTS: tuple[str, ...] = (
        "{He} lost {his} keys on the way.",
        "It started to rain, and {his} shoes got soaked.",
        "The shop was closed, and nobody answered the door.",
        "{He} tripped on a stone and hurt {his} knee.",
        "{His} {relative} forgot about their plans.",
        "When {he} reached {place}, {he} saw that everything had been destroyed by the storm.",
        "{Friend} was rude to {him} and walked away.",
        "{He} missed the last bus and had to walk home in the dark.",
        "The {object} {he} loved so much was broken.",
        "{He} failed the test {he} had studied so hard for.",
        "A cold wind blew all day, and {he} could not stop shivering.",
        "{He} came last in the {contest}.",
        "A {animal} ate all the vegetables in {his} garden.",
        "{He} tried to {skill}, but failed again and again.",
        "The train to {city} was cancelled.",
        "{He} lost {his} favorite {color} scarf.",
        "The {food} {he} made for the party was burnt and nobody ate it.",
    )
    NEUTRAL_EVENTS: tuple[str, ...] = (
        "{He} bought some bread and a bottle of milk.",
        "The bus was ten minutes late.",
        "{He} sat on a bench and watched the people walk by.",
        "There were a few boats on the water.",
        "{He} read the newspaper and drank a cup of tea.",
        "{He} walked past {other_place} and turned left at the corner.",
        "The clock in the square struck twelve.",
        "{He} wrote a short letter to {his} {relative}.",
        "{He} {activity}.",
        "After lunch, {he} {activity}.",
        "For dinner, {he} made {food}.",
        "A {animal} watched {him} from the other side of the road.",
        "It was {number} o'clock when {he} got back.",
        "The weather in {city} was {weather} that {weekday}.",
    )
    GOOD_FEELINGS: tuple[str, ...] = (
        "{Name} felt happier than ever.", "{He} laughed and sang all the way home.",
        "{Name} could not stop smiling.", "{He} felt warm, safe and loved.",
        "It was the best day of {his} life.", "{Name} was so proud of {himself}.",
        "\"What a wonderful day!\" said {name}.", "\"I love this place,\" {name} whispered.",
        "{He} felt lucky to have such good friends.",
    )
    BAD_FEELINGS: tuple[str, ...] = (
        "{Name} felt sad and lonely.", "{He} sat down and cried.",
        "{Name} was angry and tired.", "It was the worst day of {his} life.",
        "{He} felt miserable and wanted to go home.", "\"I hate this,\" said {name}.",
        "\"Why does this always happen to me?\" {name} asked.",
        "{Name} felt awful for the rest of the day.", "{He} was too upset to eat dinner.",
    )
    GOOD_ENDINGS: tuple[str, ...] = (
        "{He} smiled and went home.", "That night {he} slept peacefully.",
        "{He} knew {he} would remember this day forever.",
        "From that day on, {name} visited {place} every week.",
        "They had a lovely dinner together and talked until midnight.",
    )
    BAD_ENDINGS: tuple[str, ...] = (
        "{He} went to bed early, tired and unhappy.", "{He} never went back to {place} again.",
        "The next day was not much better.", "{He} walked home in the rain, alone.",
        "Nothing went right for the rest of the week.",
    )
    TURNS_UP: tuple[str, ...] = (
        "At first {he} was nervous, but soon {he} felt much better.",
        "Although the day began badly, it ended wonderfully.",
        "{He} was sad for a while, but then {friend} came to cheer {him} up.",
        "Things looked terrible at first, but everything turned out fine.",
    )
    TURNS_DOWN: tuple[str, ...] = (
        "Everything was going well until the storm arrived.",
        "{He} was happy at first, but the good mood did not last.",
        "The morning was lovely, but the afternoon was a disaster.",
        "{He} had been looking forward to it, but it was a big disappointment.",
    )

    def line(self, pool: Sequence[str]) -> str:
        text = self.pick(pool).replace("{Friend}", self.friend).replace(
            "{himself}", "herself" if self.c.subj == "she" else "himself")
        return _cap(_fix_articles(self.fill(text)))

    def build(self) -> str:
        rng = self.rng
        style = rng.choices(("pos", "neg", "up", "down", "neutral"), (0.32, 0.3, 0.14, 0.14, 0.1))[0]
        n_sent = rng.randint(2, 5)
        out = [self.line(self.SETUPS)]
        if style == "pos":
            plan = [self.GOOD_EVENTS, self.GOOD_FEELINGS, self.GOOD_EVENTS, self.GOOD_ENDINGS]
        elif style == "neg":
            plan = [self.BAD_EVENTS, self.BAD_FEELINGS, self.BAD_EVENTS, self.BAD_ENDINGS]
        elif style == "up":
            plan = [self.BAD_EVENTS, self.TURNS_UP, self.GOOD_EVENTS, self.GOOD_FEELINGS]
        elif style == "down":
            plan = [self.GOOD_EVENTS, self.TURNS_DOWN, self.BAD_EVENTS, self.BAD_FEELINGS]
        else:
            plan = [self.NEUTRAL_EVENTS, self.NEUTRAL_EVENTS, self.NEUTRAL_EVENTS,
                    self.NEUTRAL_EVENTS]
        if style in ("pos", "neg") and rng.random() < 0.4:
            plan.insert(1, self.NEUTRAL_EVENTS)
        for pool in plan[: n_sent - 1]:
            sentence = self.line(pool)
            for _ in range(5):
                if sentence not in out:
                    break
                sentence = self.line(pool)
            out.append(sentence)
        return " ".join(out)


def _story(rng: random.Random) -> str:
    return _Story(rng).build()


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


def generate_documents(n: int, seed: int) -> list[str]:
    """Generate ``n`` short documents (about 60% reviews, 40% stories).

    Reviews cover products, films, restaurants, books and hotels with positive,
    negative, mixed and neutral overall sentiment; stories have happy, sad,
    mixed or uneventful arcs.  Every document has 2-5 sentences.  The output
    depends only on ``(n, seed)``, and is a prefix-stable sequence: the first
    ``k`` documents of ``generate_documents(n, seed)`` equal
    ``generate_documents(k, seed)``.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    rng = random.Random(seed)
    return [_review(rng) if rng.random() < 0.6 else _story(rng) for _ in range(n)]


def labelled_reviews(
    n: int, seed: int, *, styles: Collection[str] | None = None
) -> list[tuple[str, int]]:
    """Return ``n`` reviews of the corpus with their overall polarity label.

    The reviews are those of :func:`generate_documents` with the same ``seed``,
    in the same order (stories are skipped), so ``labelled_reviews(n, 0)`` are
    reviews the bundled tiny LM was trained on.  Each item is ``(text, label)``
    with ``label`` in ``POS`` (1), ``NEG`` (-1) or ``NEU`` (0):

    * "pos" and "neg" reviews: ``POS`` and ``NEG``;
    * "neutral" reviews: ``NEU``;
    * "mixed" reviews: their *base* polarity, the one the generator draws for
      the review (the opposite polarity is derived from it).  The first
      sentence has the base polarity (often with a contrasting clause) or is
      neutral; the following sentences alternate opposite / base polarity;
      an optional closing verdict is positive, negative or neutral at random.
      So the base polarity leads, and the label is only a weak one: use
      ``styles=("pos", "neg")`` for clean positive/negative examples.

    Args:
        n: number of reviews to return.
        seed: corpus seed, as for :func:`generate_documents`.
        styles: keep only reviews of these styles (a subset of
            :data:`REVIEW_STYLES`); ``n`` then counts the kept reviews.
            ``None`` keeps every review.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    keep = set(REVIEW_STYLES) if styles is None else set(styles)
    if not keep or not keep <= set(REVIEW_STYLES):
        raise ValueError(f"styles must be a non-empty subset of {REVIEW_STYLES}, got {styles!r}")
    rng = random.Random(seed)
    out: list[tuple[str, int]] = []
    while len(out) < n:
        # Mirrors generate_documents: the same draws, in the same order.
        if rng.random() < 0.6:
            text, label, style = _review_labelled(rng)
            if style in keep:
                out.append((text, label))
        else:
            _story(rng)
    return out


def _vader() -> SentimentIntensityAnalyzer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def review_openings(n: int, seed: int) -> list[str]:
    """Return ``n`` distinct, sentiment-neutral review openings.

    Openings are unfinished review sentences such as ``"This film"``,
    ``"The pasta at this little place was"`` or ``"I bought this blender last
    week and"``: 3-12 words, no trailing space, no final period, and a VADER
    compound score within ``[-0.2, 0.2]``.  They are drawn from the same
    grammar that :func:`generate_documents` uses to start reviews.

    Raises:
        ValueError: if ``n`` distinct openings cannot be found.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    rng = random.Random(seed)
    analyzer = _vader()
    seen: set[str] = set()
    out: list[str] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 200 * n + 10_000:
            raise ValueError(f"could only find {len(out)} distinct neutral openings")
        domain = rng.choices(DOMAINS, DOMAIN_WEIGHTS)[0]
        text = _Review(rng, domain, rng.choice(domain.items)).opening().text.strip()
        text = text.rstrip(".")
        if text in seen or not 3 <= len(text.split()) <= 12:
            continue
        seen.add(text)
        if abs(analyzer.polarity_scores(text)["compound"]) <= 0.2:
            out.append(text)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """Print sample documents and review openings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5, help="number of documents")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--openings", type=int, default=5, help="number of review openings")
    args = parser.parse_args(argv)
    for doc in generate_documents(args.n, args.seed):
        print(doc)
        print()
    if args.openings:
        print("Review openings:")
        for text in review_openings(args.openings, args.seed):
            print(f"  {text}")


if __name__ == "__main__":
    main()
