"""Translate: turn a short English sentence into Glossa, a small rule-based language.

Glossa is defined in this module by a bilingual dictionary (:data:`NOUNS`,
:data:`ADJECTIVES`, :data:`VERBS` and the function words below) and seven rules; the
reference translation of a prompt is what :func:`translate_to_glossa` makes of it.

Glossa grammar (everything is lowercase):

1. Word order is subject, place phrase, object, verb (SOV).
2. A noun phrase is ``[determiner] noun[li] [adjective]``: the adjective follows the
   noun. Determiners: *the* -> ``lo``, *a* / *an* / *some* -> ``u``, *my* -> ``mi``,
   *this* / *these* -> ``sa``; an English mass noun without determiner (*bread*,
   *water*) stays bare.
3. A plural noun takes the suffix ``-li``; adjectives and verbs never agree.
4. The object noun phrase is followed by the particle ``ko``.
5. English prepositions become postpositions after their noun phrase: *in* -> ``ena``,
   *near* -> ``apo``, *behind* -> ``dore``, *under* -> ``suba``, *with* -> ``kon``.
6. The verb ends the clause; the past tense adds the suffix ``-ta`` (the present has
   none), and negation (*does not*, *do not*, *did not*) is the particle ``ne`` before it.
7. The sentence ends with a full stop written right after the verb.

Examples::

    the big dog eats bread.
    lo kibema sedufi tula ko gefu.

    the old dogs did not eat my bread near the river.
    lo kibemali fanani lo fina apo mi tula ko ne gefuta.
"""

from __future__ import annotations

import functools
import random
from collections import Counter
from dataclasses import dataclass

from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError, require_target
from textgym.tasks.data import load_prompts

PROMPT_TEMPLATE = "Translate to Glossa: {english} =>"

#: English determiner -> (Glossa determiner, grammatical number it goes with: "sg", "pl" or "any")
DETERMINERS: dict[str, tuple[str, str]] = {
    "the": ("lo", "any"),
    "a": ("u", "sg"),
    "an": ("u", "sg"),
    "some": ("u", "pl"),
    "my": ("mi", "any"),
    "this": ("sa", "sg"),
    "these": ("sa", "pl"),
}
#: English preposition -> Glossa postposition
POSTPOSITIONS: dict[str, str] = {"in": "ena", "near": "apo", "behind": "dore", "under": "suba", "with": "kon"}
PLURAL_SUFFIX = "li"
OBJECT_PARTICLE = "ko"
NEGATION_PARTICLE = "ne"
PAST_SUFFIX = "ta"
#: preposition -> the noun categories or nouns (space-separated) its noun phrase is drawn from
PREPOSITION_OBJECTS: dict[str, str] = {
    "in": "house garden park river forest city village school market kitchen field lake room shop castle farm library "
    "station",
    "near": "place",
    "behind": "house school shop castle farm library station hill mountain door",
    "under": "bridge table chair blanket",
    "with": "person animal",
}
#: verbs that an animal may be the subject of (every verb takes a person)
ANIMAL_VERBS = frozenset(
    (
        "eat drink find carry see watch like love want hold hear chase follow catch sleep run walk swim play sit wait "
        "jump rest"
    ).split()
)
NEGATED_AUXILIARIES = {"does": "present", "do": "present", "did": "past"}

# chrF (Popovic 2015) on characters, whitespace removed
CHRF_MAX_ORDER = 6
CHRF_BETA = 2.0


@dataclass(frozen=True)
class NounEntry:
    """An English noun (``plural`` is ``None`` for a mass noun), its category and its Glossa word."""

    english: str
    plural: str | None
    category: str
    glossa: str


@dataclass(frozen=True)
class AdjectiveEntry:
    """An English adjective, its Glossa word and the noun categories it describes (space-separated)."""

    english: str
    glossa: str
    categories: str


@dataclass(frozen=True)
class VerbEntry:
    """An English verb (base, 3rd person singular, past) and its Glossa word.

    ``objects`` lists, space-separated, the noun categories or nouns its object is drawn
    from (empty for a verb that takes none); ``intransitive`` says whether it may also
    stand without an object.
    """

    english: str
    third_person: str
    past: str
    glossa: str
    objects: str
    intransitive: bool


# -- the dictionary ---------------------------------------------------------------------

NOUNS: tuple[NounEntry, ...] = (
    NounEntry('man', 'men', 'person', 'mada'),
    NounEntry('woman', 'women', 'person', 'lubuga'),
    NounEntry('child', 'children', 'person', 'moda'),
    NounEntry('boy', 'boys', 'person', 'poba'),
    NounEntry('girl', 'girls', 'person', 'gubura'),
    NounEntry('teacher', 'teachers', 'person', 'gapa'),
    NounEntry('doctor', 'doctors', 'person', 'mepe'),
    NounEntry('farmer', 'farmers', 'person', 'kuzo'),
    NounEntry('baker', 'bakers', 'person', 'durela'),
    NounEntry('king', 'kings', 'person', 'taro'),
    NounEntry('queen', 'queens', 'person', 'goso'),
    NounEntry('friend', 'friends', 'person', 'vinune'),
    NounEntry('student', 'students', 'person', 'gete'),
    NounEntry('sailor', 'sailors', 'person', 'ripa'),
    NounEntry('singer', 'singers', 'person', 'toke'),
    NounEntry('driver', 'drivers', 'person', 'dumeva'),
    NounEntry('cook', 'cooks', 'person', 'noba'),
    NounEntry('soldier', 'soldiers', 'person', 'vurila'),
    NounEntry('mother', 'mothers', 'person', 'rorode'),
    NounEntry('father', 'fathers', 'person', 'nabe'),
    NounEntry('brother', 'brothers', 'person', 'kusoko'),
    NounEntry('sister', 'sisters', 'person', 'sibole'),
    NounEntry('neighbor', 'neighbors', 'person', 'dobo'),
    NounEntry('painter', 'painters', 'person', 'feme'),
    NounEntry('writer', 'writers', 'person', 'dene'),
    NounEntry('guard', 'guards', 'person', 'kezo'),
    NounEntry('nurse', 'nurses', 'person', 'kolo'),
    NounEntry('pilot', 'pilots', 'person', 'gedefe'),
    NounEntry('hunter', 'hunters', 'person', 'gano'),
    NounEntry('dog', 'dogs', 'animal', 'kibema'),
    NounEntry('cat', 'cats', 'animal', 'rulete'),
    NounEntry('horse', 'horses', 'animal', 'sanumo'),
    NounEntry('bird', 'birds', 'animal', 'mane'),
    NounEntry('cow', 'cows', 'animal', 'bedene'),
    NounEntry('mouse', 'mice', 'animal', 'luba'),
    NounEntry('fox', 'foxes', 'animal', 'repa'),
    NounEntry('wolf', 'wolves', 'animal', 'rade'),
    NounEntry('bear', 'bears', 'animal', 'meso'),
    NounEntry('rabbit', 'rabbits', 'animal', 'rine'),
    NounEntry('duck', 'ducks', 'animal', 'zona'),
    NounEntry('goat', 'goats', 'animal', 'kafe'),
    NounEntry('lion', 'lions', 'animal', 'lino'),
    NounEntry('pig', 'pigs', 'animal', 'pagula'),
    NounEntry('frog', 'frogs', 'animal', 'pavo'),
    NounEntry('owl', 'owls', 'animal', 'satipe'),
    NounEntry('snake', 'snakes', 'animal', 'lepa'),
    NounEntry('monkey', 'monkeys', 'animal', 'lerevo'),
    NounEntry('chicken', 'chickens', 'animal', 'tege'),
    NounEntry('donkey', 'donkeys', 'animal', 'labine'),
    NounEntry('bread', None, 'food', 'tula'),
    NounEntry('apple', 'apples', 'food', 'lido'),
    NounEntry('cake', 'cakes', 'food', 'goga'),
    NounEntry('egg', 'eggs', 'food', 'nura'),
    NounEntry('soup', None, 'food', 'sive'),
    NounEntry('cheese', None, 'food', 'zamena'),
    NounEntry('rice', None, 'food', 'vide'),
    NounEntry('meat', None, 'food', 'notate'),
    NounEntry('orange', 'oranges', 'food', 'fafa'),
    NounEntry('pear', 'pears', 'food', 'verune'),
    NounEntry('cookie', 'cookies', 'food', 'fupebe'),
    NounEntry('banana', 'bananas', 'food', 'sapo'),
    NounEntry('tomato', 'tomatoes', 'food', 'mezeba'),
    NounEntry('potato', 'potatoes', 'food', 'kuga'),
    NounEntry('carrot', 'carrots', 'food', 'kumebe'),
    NounEntry('sandwich', 'sandwiches', 'food', 'nuzume'),
    NounEntry('pie', 'pies', 'food', 'pepuba'),
    NounEntry('lemon', 'lemons', 'food', 'rava'),
    NounEntry('water', None, 'drink', 'fora'),
    NounEntry('milk', None, 'drink', 'palupa'),
    NounEntry('tea', None, 'drink', 'vapage'),
    NounEntry('coffee', None, 'drink', 'bape'),
    NounEntry('juice', None, 'drink', 'bano'),
    NounEntry('book', 'books', 'thing', 'pupo'),
    NounEntry('letter', 'letters', 'thing', 'kopo'),
    NounEntry('ball', 'balls', 'thing', 'petuke'),
    NounEntry('box', 'boxes', 'thing', 'zofoda'),
    NounEntry('cup', 'cups', 'thing', 'lase'),
    NounEntry('hat', 'hats', 'thing', 'dese'),
    NounEntry('key', 'keys', 'thing', 'veta'),
    NounEntry('chair', 'chairs', 'thing', 'lekeno'),
    NounEntry('table', 'tables', 'thing', 'dono'),
    NounEntry('door', 'doors', 'thing', 'zefo'),
    NounEntry('window', 'windows', 'thing', 'pologe'),
    NounEntry('car', 'cars', 'thing', 'dibe'),
    NounEntry('boat', 'boats', 'thing', 'noto'),
    NounEntry('bag', 'bags', 'thing', 'lure'),
    NounEntry('song', 'songs', 'thing', 'davo'),
    NounEntry('picture', 'pictures', 'thing', 'dika'),
    NounEntry('story', 'stories', 'thing', 'keza'),
    NounEntry('gift', 'gifts', 'thing', 'zimo'),
    NounEntry('map', 'maps', 'thing', 'puno'),
    NounEntry('lamp', 'lamps', 'thing', 'dibeme'),
    NounEntry('pen', 'pens', 'thing', 'bave'),
    NounEntry('coat', 'coats', 'thing', 'reda'),
    NounEntry('shoe', 'shoes', 'thing', 'nala'),
    NounEntry('ring', 'rings', 'thing', 'kufape'),
    NounEntry('clock', 'clocks', 'thing', 'dekafa'),
    NounEntry('basket', 'baskets', 'thing', 'sipe'),
    NounEntry('rope', 'ropes', 'thing', 'nuse'),
    NounEntry('stone', 'stones', 'thing', 'lake'),
    NounEntry('flower', 'flowers', 'thing', 'bupa'),
    NounEntry('knife', 'knives', 'thing', 'neno'),
    NounEntry('bottle', 'bottles', 'thing', 'zoso'),
    NounEntry('blanket', 'blankets', 'thing', 'zopo'),
    NounEntry('candle', 'candles', 'thing', 'gelo'),
    NounEntry('drum', 'drums', 'thing', 'temo'),
    NounEntry('kite', 'kites', 'thing', 'zeba'),
    NounEntry('house', 'houses', 'place', 'timo'),
    NounEntry('garden', 'gardens', 'place', 'doza'),
    NounEntry('park', 'parks', 'place', 'kugibo'),
    NounEntry('river', 'rivers', 'place', 'fina'),
    NounEntry('forest', 'forests', 'place', 'lipe'),
    NounEntry('city', 'cities', 'place', 'biga'),
    NounEntry('village', 'villages', 'place', 'bima'),
    NounEntry('school', 'schools', 'place', 'kuse'),
    NounEntry('market', 'markets', 'place', 'pada'),
    NounEntry('kitchen', 'kitchens', 'place', 'boba'),
    NounEntry('field', 'fields', 'place', 'sede'),
    NounEntry('road', 'roads', 'place', 'zesumo'),
    NounEntry('beach', 'beaches', 'place', 'neko'),
    NounEntry('hill', 'hills', 'place', 'sebuso'),
    NounEntry('lake', 'lakes', 'place', 'tufo'),
    NounEntry('room', 'rooms', 'place', 'razuvo'),
    NounEntry('shop', 'shops', 'place', 'tedabo'),
    NounEntry('castle', 'castles', 'place', 'lamo'),
    NounEntry('bridge', 'bridges', 'place', 'baso'),
    NounEntry('farm', 'farms', 'place', 'gokano'),
    NounEntry('street', 'streets', 'place', 'pudo'),
    NounEntry('mountain', 'mountains', 'place', 'dokazo'),
    NounEntry('island', 'islands', 'place', 'tega'),
    NounEntry('library', 'libraries', 'place', 'nozodo'),
    NounEntry('station', 'stations', 'place', 'karo'),
)
ADJECTIVES: tuple[AdjectiveEntry, ...] = (
    AdjectiveEntry('big', 'sedufi', 'person animal food thing place'),
    AdjectiveEntry('small', 'kiri', 'person animal food thing place'),
    AdjectiveEntry('old', 'fanani', 'person animal thing place'),
    AdjectiveEntry('little', 'sati', 'person animal thing place'),
    AdjectiveEntry('young', 'soki', 'person animal'),
    AdjectiveEntry('happy', 'pinoni', 'person animal'),
    AdjectiveEntry('sad', 'peki', 'person animal'),
    AdjectiveEntry('angry', 'naki', 'person animal'),
    AdjectiveEntry('brave', 'duni', 'person animal'),
    AdjectiveEntry('clever', 'megi', 'person animal'),
    AdjectiveEntry('hungry', 'rafi', 'person animal'),
    AdjectiveEntry('tired', 'pileri', 'person animal'),
    AdjectiveEntry('kind', 'pidigi', 'person'),
    AdjectiveEntry('lazy', 'nobi', 'person animal'),
    AdjectiveEntry('proud', 'bosi', 'person animal'),
    AdjectiveEntry('shy', 'miti', 'person animal'),
    AdjectiveEntry('busy', 'mimi', 'person place'),
    AdjectiveEntry('funny', 'dibi', 'person animal thing'),
    AdjectiveEntry('gentle', 'vizi', 'person animal'),
    AdjectiveEntry('calm', 'deti', 'person animal place'),
    AdjectiveEntry('quiet', 'tiki', 'person animal place'),
    AdjectiveEntry('loud', 'domi', 'person animal thing'),
    AdjectiveEntry('wild', 'dimizi', 'animal'),
    AdjectiveEntry('tall', 'kabi', 'person thing'),
    AdjectiveEntry('strong', 'kegimi', 'person animal drink'),
    AdjectiveEntry('sweet', 'levivi', 'food drink'),
    AdjectiveEntry('fresh', 'bopi', 'food drink'),
    AdjectiveEntry('hot', 'gaboni', 'food drink place'),
    AdjectiveEntry('cold', 'vesini', 'food drink place'),
    AdjectiveEntry('warm', 'pefi', 'food drink thing place'),
    AdjectiveEntry('red', 'miki', 'animal food thing'),
    AdjectiveEntry('blue', 'kimi', 'thing'),
    AdjectiveEntry('green', 'ginusi', 'food thing place'),
    AdjectiveEntry('white', 'desi', 'animal food thing place'),
    AdjectiveEntry('black', 'depi', 'animal thing'),
    AdjectiveEntry('yellow', 'peni', 'food thing'),
    AdjectiveEntry('brown', 'vomi', 'animal food thing'),
    AdjectiveEntry('new', 'pegi', 'thing place'),
    AdjectiveEntry('heavy', 'fipi', 'thing'),
    AdjectiveEntry('beautiful', 'leli', 'person animal thing place'),
    AdjectiveEntry('clean', 'vugi', 'thing place'),
    AdjectiveEntry('dirty', 'tomi', 'animal thing place'),
    AdjectiveEntry('broken', 'tugi', 'thing'),
    AdjectiveEntry('round', 'kivi', 'food thing'),
    AdjectiveEntry('long', 'niri', 'thing place'),
    AdjectiveEntry('dark', 'fupi', 'thing place'),
    AdjectiveEntry('bright', 'vedigi', 'thing place'),
    AdjectiveEntry('wet', 'momi', 'animal thing'),
    AdjectiveEntry('empty', 'zafi', 'thing place'),
    AdjectiveEntry('soft', 'mori', 'food thing'),
    AdjectiveEntry('cheap', 'bami', 'food thing'),
    AdjectiveEntry('famous', 'zonevi', 'person thing place'),
)
VERBS: tuple[VerbEntry, ...] = (
    VerbEntry('eat', 'eats', 'ate', 'gefu', 'food', True),
    VerbEntry('drink', 'drinks', 'drank', 'sazodu', 'drink', True),
    VerbEntry('cook', 'cooks', 'cooked', 'vabegu', 'food', True),
    VerbEntry('buy', 'buys', 'bought', 'bifipu', 'food drink thing', False),
    VerbEntry('sell', 'sells', 'sold', 'madaku', 'food drink thing', False),
    VerbEntry('find', 'finds', 'found', 'remigu', 'animal thing', False),
    VerbEntry('lose', 'loses', 'lost', 'bapinu', 'thing', False),
    VerbEntry('carry', 'carries', 'carried', 'lenu', 'animal food thing', False),
    VerbEntry('see', 'sees', 'saw', 'gugamu', 'person animal thing place', False),
    VerbEntry('watch', 'watches', 'watched', 'sibagu', 'person animal', False),
    VerbEntry('like', 'likes', 'liked', 'sodu', 'person animal food drink thing place', False),
    VerbEntry('love', 'loves', 'loved', 'golu', 'person animal food drink thing place', False),
    VerbEntry('want', 'wants', 'wanted', 'natu', 'food drink thing', False),
    VerbEntry('write', 'writes', 'wrote', 'tolu', 'letter song story', True),
    VerbEntry('open', 'opens', 'opened', 'mebitu', 'door window box bag book bottle letter', False),
    VerbEntry('close', 'closes', 'closed', 'deneku', 'door window box bag book', False),
    VerbEntry('paint', 'paints', 'painted', 'gogu', 'picture house door chair table boat car', True),
    VerbEntry('build', 'builds', 'built', 'vidu', 'house boat bridge castle table chair', False),
    VerbEntry('clean', 'cleans', 'cleaned', 'nufenu', 'room house kitchen car table window shoe cup', False),
    VerbEntry('help', 'helps', 'helped', 'saru', 'person', False),
    VerbEntry('call', 'calls', 'called', 'magu', 'person animal', False),
    VerbEntry('visit', 'visits', 'visited', 'remu', 'person place', False),
    VerbEntry('follow', 'follows', 'followed', 'tafu', 'person animal', False),
    VerbEntry('catch', 'catches', 'caught', 'nitu', 'ball animal', False),
    VerbEntry('throw', 'throws', 'threw', 'delu', 'ball stone key hat', False),
    VerbEntry('hold', 'holds', 'held', 'futu', 'animal thing', False),
    VerbEntry('bring', 'brings', 'brought', 'bisu', 'food drink thing', False),
    VerbEntry('take', 'takes', 'took', 'milofu', 'food thing', False),
    VerbEntry('wash', 'washes', 'washed', 'baku', 'cup car shoe coat apple dog cat horse', False),
    VerbEntry('feed', 'feeds', 'fed', 'lodu', 'person animal', False),
    VerbEntry('hear', 'hears', 'heard', 'vemivu', 'person animal song', False),
    VerbEntry('sing', 'sings', 'sang', 'zodu', 'song', True),
    VerbEntry('draw', 'draws', 'drew', 'togu', 'picture map animal house', True),
    VerbEntry('chase', 'chases', 'chased', 'pogu', 'person animal ball', False),
    VerbEntry('meet', 'meets', 'met', 'lobu', 'person', False),
    VerbEntry('sleep', 'sleeps', 'slept', 'mevobu', '', True),
    VerbEntry('run', 'runs', 'ran', 'bodu', '', True),
    VerbEntry('walk', 'walks', 'walked', 'ketu', '', True),
    VerbEntry('dance', 'dances', 'danced', 'rilu', '', True),
    VerbEntry('swim', 'swims', 'swam', 'lubu', '', True),
    VerbEntry('play', 'plays', 'played', 'tiku', '', True),
    VerbEntry('sit', 'sits', 'sat', 'buvu', '', True),
    VerbEntry('wait', 'waits', 'waited', 'dazedu', '', True),
    VerbEntry('work', 'works', 'worked', 'tovu', '', True),
    VerbEntry('laugh', 'laughs', 'laughed', 'vimu', '', True),
    VerbEntry('cry', 'cries', 'cried', 'fofu', '', True),
    VerbEntry('jump', 'jumps', 'jumped', 'vizu', '', True),
    VerbEntry('rest', 'rests', 'rested', 'verelu', '', True),
)


NOUN_BY_ENGLISH: dict[str, NounEntry] = {entry.english: entry for entry in NOUNS}
ADJECTIVE_BY_ENGLISH: dict[str, AdjectiveEntry] = {entry.english: entry for entry in ADJECTIVES}
VERB_BY_ENGLISH: dict[str, VerbEntry] = {entry.english: entry for entry in VERBS}
#: every inflected English noun form -> (entry, is plural)
NOUN_FORMS: dict[str, tuple[NounEntry, bool]] = {
    **{entry.english: (entry, False) for entry in NOUNS},
    **{entry.plural: (entry, True) for entry in NOUNS if entry.plural},
}
#: every inflected English verb form -> (entry, form name: "base", "third_person" or "past")
VERB_FORMS: dict[str, tuple[VerbEntry, str]] = {
    **{entry.english: (entry, "base") for entry in VERBS},
    **{entry.third_person: (entry, "third_person") for entry in VERBS},
    **{entry.past: (entry, "past") for entry in VERBS},
}


# -- sentences -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NounPhrase:
    """``[determiner] [adjective] noun`` in English terms (``determiner`` may be ``None`` for a mass noun)."""

    noun: str
    plural: bool = False
    determiner: str | None = "the"
    adjective: str | None = None

    def english(self) -> str:
        entry = NOUN_BY_ENGLISH[self.noun]
        words = [self.adjective] if self.adjective else []
        words.append(entry.plural if self.plural else entry.english)
        if self.determiner is not None:
            determiner = self.determiner
            if determiner in ("a", "an"):
                determiner = "an" if words[0][0] in "aeiou" else "a"
            words.insert(0, determiner)
        return " ".join(words)

    def glossa(self) -> str:
        words = [] if self.determiner is None else [DETERMINERS[self.determiner][0]]
        words.append(NOUN_BY_ENGLISH[self.noun].glossa + (PLURAL_SUFFIX if self.plural else ""))
        if self.adjective:
            words.append(ADJECTIVE_BY_ENGLISH[self.adjective].glossa)
        return " ".join(words)


@dataclass(frozen=True)
class Clause:
    """One sentence of the fragment: subject, verb (tense, negation), optional object and place phrase."""

    subject: NounPhrase
    verb: str
    past: bool = False
    negated: bool = False
    object: NounPhrase | None = None
    preposition: str | None = None
    place: NounPhrase | None = None

    def english(self) -> str:
        entry = VERB_BY_ENGLISH[self.verb]
        if self.negated:
            auxiliary = "did" if self.past else ("do" if self.subject.plural else "does")
            verb = f"{auxiliary} not {entry.english}"
        elif self.past:
            verb = entry.past
        else:
            verb = entry.english if self.subject.plural else entry.third_person
        words = [self.subject.english(), verb]
        if self.object is not None:
            words.append(self.object.english())
        if self.place is not None:
            words += [self.preposition, self.place.english()]
        return " ".join(words) + "."

    def content_words(self) -> list[str]:
        """The dictionary words of the clause, in English: its verb, then each phrase's noun and adjective."""
        words = [self.verb]
        for phrase in (self.subject, self.object, self.place):
            if phrase is not None:
                words += [phrase.noun] + ([phrase.adjective] if phrase.adjective else [])
        return words

    def glossa(self) -> str:
        words = [self.subject.glossa()]
        if self.place is not None:
            words += [self.place.glossa(), POSTPOSITIONS[self.preposition]]
        if self.object is not None:
            words += [self.object.glossa(), OBJECT_PARTICLE]
        if self.negated:
            words.append(NEGATION_PARTICLE)
        words.append(VERB_BY_ENGLISH[self.verb].glossa + (PAST_SUFFIX if self.past else ""))
        return " ".join(words) + "."


def _outside(sentence: str, why: str) -> TaskError:
    return TaskError(f"cannot translate {sentence!r}: {why}; Glossa covers sentences of the form "
                     "'[det] [adjective] noun verb [object] [preposition noun phrase].' built from its dictionary")


def _parse_noun_phrase(words: list[str], position: int, sentence: str) -> tuple[NounPhrase, int]:
    determiner = None
    if position < len(words) and words[position] in DETERMINERS:
        determiner = "a" if words[position] == "an" else words[position]
        position += 1
    adjective = None
    if position < len(words) and words[position] in ADJECTIVE_BY_ENGLISH and words[position] not in NOUN_FORMS:
        adjective = words[position]
        position += 1
    if position >= len(words) or words[position] not in NOUN_FORMS:
        found = words[position] if position < len(words) else "the end of the sentence"
        raise _outside(sentence, f"expected a noun, found {found!r}")
    entry, plural = NOUN_FORMS[words[position]]
    if determiner is None and entry.plural is not None and not plural:
        raise _outside(sentence, f"the countable noun {entry.english!r} needs a determiner")
    if determiner is not None:
        number = DETERMINERS[determiner][1]
        if (number == "sg" and plural) or (number == "pl" and not plural):
            raise _outside(sentence, f"{determiner!r} does not go with {words[position]!r}")
    return NounPhrase(entry.english, plural, determiner, adjective), position + 1


def parse_english(sentence: str) -> Clause:
    """The :class:`Clause` of an English sentence of the fragment, or a :class:`TaskError`."""
    text = sentence.strip()
    if not text.endswith("."):
        raise _outside(sentence, "it does not end with a full stop")
    words = text[:-1].lower().split()
    subject, position = _parse_noun_phrase(words, 0, sentence)
    negated, past = False, False
    if position + 1 < len(words) and words[position] in NEGATED_AUXILIARIES and words[position + 1] == "not":
        negated, past = True, NEGATED_AUXILIARIES[words[position]] == "past"
        position += 2
    if position >= len(words) or words[position] not in VERB_FORMS:
        raise _outside(sentence, "expected a verb after the subject")
    entry, form = VERB_FORMS[words[position]]
    position += 1
    if negated and form != "base":
        raise _outside(
            sentence, f"a negated verb is in its base form, not {entry.english!r} -> {words[position - 1]!r}"
        )
    if not negated:
        past = form == "past"
        if (form == "base" and not subject.plural) or (form == "third_person" and subject.plural):
            raise _outside(sentence, f"the verb {words[position - 1]!r} does not agree with the subject")
    obj = None
    if position < len(words) and words[position] not in POSTPOSITIONS:
        obj, position = _parse_noun_phrase(words, position, sentence)
    preposition = place = None
    if position < len(words):
        if words[position] not in POSTPOSITIONS:
            raise _outside(sentence, f"unexpected word {words[position]!r}")
        preposition = words[position]
        place, position = _parse_noun_phrase(words, position + 1, sentence)
    if position != len(words):
        raise _outside(sentence, f"unexpected word {words[position]!r}")
    return Clause(subject, entry.english, past, negated, obj, preposition, place)


def translate_to_glossa(sentence: str) -> str:
    """The Glossa translation of an English sentence of the fragment (lowercase, full stop at the end)."""
    return parse_english(sentence).glossa()


def noun_allowed(allowed: str, entry: NounEntry) -> bool:
    """Whether ``entry`` fits ``allowed``, a space-separated list of noun categories and nouns."""
    names = allowed.split()
    return entry.category in names or entry.english in names


def random_noun_phrase(
    rng: random.Random, nouns: list[NounEntry], adjective_rate: float, plural_rate: float
) -> NounPhrase:
    """A noun phrase over one of ``nouns`` with a fitting determiner and, sometimes, a fitting adjective."""
    entry = rng.choice(nouns)
    adjectives = [a.english for a in ADJECTIVES if entry.category in a.categories.split()]
    adjective = rng.choice(adjectives) if adjectives and rng.random() < adjective_rate else None
    if entry.plural is None:
        return NounPhrase(entry.english, False, rng.choice([None, None, "the", "my", "this"]), adjective)
    plural = rng.random() < plural_rate
    determiner = rng.choice(["the", "the", "my", "these", "some"] if plural else ["the", "the", "a", "my", "this"])
    return NounPhrase(entry.english, plural, determiner, adjective)


def random_clause(rng: random.Random) -> Clause:
    """A random sentence of the fragment with a person or animal as subject (seeded by ``rng``)."""
    subject = random_noun_phrase(rng, [n for n in NOUNS if n.category in ("person", "animal")], 0.4, 0.3)
    animal = NOUN_BY_ENGLISH[subject.noun].category == "animal"
    verb = rng.choice([v for v in VERBS if not animal or v.english in ANIMAL_VERBS])
    return complete_clause(rng, subject, verb)


def complete_clause(rng: random.Random, subject: NounPhrase, verb: VerbEntry) -> Clause:
    """The rest of :func:`random_clause`'s sentence for a drawn subject and verb: object, place, tense, negation."""
    obj = None
    if verb.objects and (not verb.intransitive or rng.random() < 0.6):
        candidates = [n for n in NOUNS if noun_allowed(verb.objects, n) and n.english != subject.noun]
        obj = random_noun_phrase(rng, candidates, 0.3, 0.3)
    preposition = place = None
    if rng.random() < (0.25 if obj else 0.6):
        preposition = rng.choice(sorted(POSTPOSITIONS))
        used = {subject.noun, obj.noun if obj else None}
        candidates = [n for n in NOUNS if noun_allowed(PREPOSITION_OBJECTS[preposition], n) and n.english not in used]
        place = random_noun_phrase(rng, candidates, 0.2, 0.1)
    past = rng.random() < 0.35
    negated = rng.random() < 0.2
    return Clause(subject, verb.english, past, negated, obj, preposition, place)


# -- chrF ------------------------------------------------------------------------------------


def character_ngrams(text: str, order: int) -> Counter:
    """Counts of the character n-grams of length ``order`` in ``text`` with whitespace removed."""
    chars = "".join(ch for ch in text if not ch.isspace())
    return Counter(chars[i : i + order] for i in range(len(chars) - order + 1))


def chrf_from_statistics(
    matches: list[int], hypothesis_totals: list[int], reference_totals: list[int], beta: float = CHRF_BETA
) -> float:
    """chrF in ``[0, 1]`` from per-order clipped matches and n-gram totals.

    Precision and recall are averaged over the orders the reference has n-grams of
    (every order up to 6 for a reference of 6 or more characters), then combined as
    ``(1 + beta^2) P R / (beta^2 P + R)``; 0 when the hypothesis has no character.
    """
    if hypothesis_totals[0] == 0:
        return 0.0
    orders = [n for n in range(len(reference_totals)) if reference_totals[n] > 0]
    if not orders:
        return 0.0
    precision = sum(matches[n] / hypothesis_totals[n] if hypothesis_totals[n] else 0.0 for n in orders) / len(orders)
    recall = sum(matches[n] / reference_totals[n] for n in orders) / len(orders)
    if precision + recall == 0.0:
        return 0.0
    factor = beta * beta
    return (1.0 + factor) * precision * recall / (factor * precision + recall)


def chrf(hypothesis: str, reference: str, max_order: int = CHRF_MAX_ORDER, beta: float = CHRF_BETA) -> float:
    """chrF (character n-gram F-score, n = 1..``max_order``, whitespace ignored) in ``[0, 1]``."""
    matches, hypothesis_totals, reference_totals = [], [], []
    for order in range(1, max_order + 1):
        hyp, ref = character_ngrams(hypothesis, order), character_ngrams(reference, order)
        matches.append(sum((hyp & ref).values()))
        hypothesis_totals.append(sum(hyp.values()))
        reference_totals.append(sum(ref.values()))
    return chrf_from_statistics(matches, hypothesis_totals, reference_totals, beta)


@functools.lru_cache(maxsize=1024)
def reference_ngrams(reference: str) -> tuple[dict[str, int], tuple[int, ...]]:
    """Every character n-gram of ``reference`` (``n = 1..6``, whitespace removed) with its count, in one
    dict (a gram's length is its order), and the n-gram totals per order. Shared: read only."""
    per_order = [character_ngrams(reference, n) for n in range(1, CHRF_MAX_ORDER + 1)]
    counts: dict[str, int] = {}
    for order_counts in per_order:
        counts.update(order_counts)
    return counts, tuple(sum(c.values()) for c in per_order)


class ChrFScorer(Scorer):
    """Carries the clipped matches per order: an update costs O(len(appended)).

    Only the hypothesis n-grams that the reference has are counted (no other one can
    match). A character's new n-grams are the suffixes of the last six non-space
    characters, shortest first, and a suffix of a reference n-gram is a reference n-gram
    too: the first suffix the reference lacks ends the character's loop. The hypothesis'
    n-gram totals follow from its count of non-space characters.
    """

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.reference_counts, self.reference_totals = reference_ngrams(prompt.target or "")
        self.hypothesis_counts: dict[str, int] = {}  # the hypothesis' reference n-grams
        self.characters = 0  # non-space characters written
        self.matches = [0] * CHRF_MAX_ORDER
        self.tail = ""  # the last max_order - 1 non-space characters

    def update(self, continuation: str, appended: str) -> float:
        reference, counts, matches = self.reference_counts, self.hypothesis_counts, self.matches
        tail = self.tail
        for ch in appended:
            if ch.isspace():
                continue
            self.characters += 1
            window = tail + ch
            for n in range(1, len(window) + 1):
                gram = window[-n:]
                limit = reference.get(gram)
                if limit is None:
                    break
                count = counts.get(gram, 0) + 1
                counts[gram] = count
                if count <= limit:
                    matches[n - 1] += 1
            tail = window[-(CHRF_MAX_ORDER - 1) :]
        self.tail = tail
        k = self.characters
        totals = [k - n if k > n else 0 for n in range(CHRF_MAX_ORDER)]  # k - order + 1 n-grams of each order
        return chrf_from_statistics(matches, totals, self.reference_totals)


# -- the task ------------------------------------------------------------------------------


class TranslateTask(Task):
    """Translate a short English sentence into Glossa.

    ## Description
    The prompt is ``"Translate to Glossa: <English sentence> =>"``, e.g.
    ``"Translate to Glossa: the big dog eats bread. =>"``; the reference is the sentence's
    rule-based Glossa translation (``"lo kibema sedufi tula ko gefu."``; the dictionary and
    the seven rules are in this module's docstring). The agent writes the translation and
    ends the episode with EOS. Sentences come from templates over the dictionary: a
    person or animal subject, a verb in the present or past, sometimes negated, with an
    optional object and an optional place or company phrase.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the
    bundled ``"tiny"`` model, including EOS ``<|endoftext|>`` and ``<pad>``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    prompt tokens then generated tokens, right-padded; ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score: chrF of the continuation against the reference (Popovic 2015), in ``[0, 1]``:
    character n-grams for ``n = 1..6`` with whitespace removed; per order, precision and
    recall of the clipped n-gram matches; both averaged over the orders (those the
    reference has n-grams of); ``chrF = 5 P R / (4 P + R)`` (``beta = 2``: recall weighs
    more). 1 exactly when the continuation equals the reference up to whitespace;
    ``score("") = 0``.

    - dense: ``r_t = score(c_{t+1}) - score(c_t)``. For the example above, writing
      ``" lo"``, ``" kibema"``, ``" sedufi"``, ``" tula"``, ``" ko"``, ``" gefu"``, ``"."``
      then EOS gives scores ``0.025, 0.2831, 0.5637, 0.7329, 0.8128, 0.9639, 1, 1``, so the
      rewards of the tokens of each word sum to ``+0.025, +0.2581, +0.2806, +0.1692,
      +0.0799, +0.1511, +0.0361`` and EOS gets ``0``: 1 in total (a word of several tokens,
      such as ``" kibema"`` in the ``"tiny"`` vocabulary, spreads its increase over them).
    - sparse: 0 at every step and ``score`` at the last one (EOS): ``1``.

    ## Starting State
    A prompt drawn uniformly from the split (400 train, 100 eval; disjoint by sentence)
    with the environment's seeded RNG.

    ## Episode End
    - Termination: the agent emits EOS, or ``max_new_tokens`` tokens generated (default 48): the horizon is part
      of the task, so it terminates too (``info["end_reason"]`` says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/Translate-v0", model="tiny", reward_mode="dense", max_new_tokens=48, split="train")``.

    ## Version History
    - v0: initial version.
    """

    name = "translate"
    description = "translate the English sentence into Glossa, then emit EOS"
    score_range = (0.0, 1.0)
    max_new_tokens = 48
    model = "tiny"

    def __init__(self, prompts: PromptsLike | None = None) -> None:
        """The task on the shipped prompt set, or on yours.

        Args:
            prompts: your prompts instead of the shipped set: a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object (see
                :class:`~textgym.task.Task`); each needs a ``target``: the reference translation.
        """
        super().__init__(prompts=prompts)

    def check_prompt(self, prompt: Prompt) -> None:
        """A prompt needs a ``target``: the reference translation chrF compares with."""
        require_target(prompt, self.name, "the reference translation")

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("translate", split)

    def score(self, prompt: Prompt, continuation: str) -> float:
        return chrf(continuation, prompt.target or "")

    def scorer(self, prompt: Prompt) -> Scorer:
        return ChrFScorer(self, prompt)


def generate_prompt_set(seed: int = 0, num_train: int = 400, num_eval: int = 100) -> dict[str, list[dict]]:
    """``num_train`` train and ``num_eval`` eval translation prompts, disjoint by English sentence (seeded)."""
    rng = random.Random(seed)
    clauses: dict[str, Clause] = {}
    while len(clauses) < num_train + num_eval:
        clause = random_clause(rng)
        clauses.setdefault(clause.english(), clause)
    records = [
        {"text": PROMPT_TEMPLATE.format(english=english), "target": clause.glossa(), "data": {"english": english}}
        for english, clause in clauses.items()
    ]
    return {"train": records[:num_train], "eval": records[num_train:]}
