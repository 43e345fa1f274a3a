"""QA: answer a factual question about countries, people, dates and science in a few words."""

from __future__ import annotations

import random
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from textgym.task import Prompt, PromptsLike, Scorer, Task, TaskError
from textgym.tasks.data import load_prompts

PROMPT_TEMPLATE = "Q: {question} A:"
END_OF_ANSWER = "\n"
ARTICLES = frozenset({"a", "an", "the"})
PUNCTUATION = frozenset(string.punctuation)
F1_WEIGHT, EXACT_MATCH_WEIGHT = 0.5, 0.5


@dataclass(frozen=True)
class Country:
    """Facts about a country; ``None`` where a question would be ambiguous (several capitals or languages)."""

    name: str  # as written in a question, with "the" where English needs it
    names: tuple[str, ...]  # accepted answers naming the country, the first is the reference
    capital: tuple[str, ...] | None
    continent: tuple[str, ...] | None
    currency: tuple[str, ...] | None
    language: tuple[str, ...] | None


def _c(
    name: str,
    capital: str | None,
    continent: str | None,
    currency: str | None,
    language: str | None,
    names: str | None = None,
) -> Country:
    """A :class:`Country` from ``|``-separated answer lists (the first answer is the reference)."""

    def answers(value: str | None) -> tuple[str, ...] | None:
        return None if value is None else tuple(value.split("|"))

    bare = name[4:] if name.startswith("the ") else name
    return Country(
        name, answers(names or bare), answers(capital), answers(continent), answers(currency), answers(language)
    )


EU, AS, AF, NA, SA = "Europe", "Asia", "Africa", "North America", "South America"
OC = "Oceania|Australia|Australia and Oceania"

#: hand-written country facts (capital, continent, currency, main language)
COUNTRIES: tuple[Country, ...] = (
    _c("France", "Paris", EU, "euro", "French"),
    _c("Germany", "Berlin", EU, "euro", "German"),
    _c("Italy", "Rome", EU, "euro", "Italian"),
    _c("Spain", "Madrid", EU, "euro", "Spanish|Castilian"),
    _c("Portugal", "Lisbon", EU, "euro", "Portuguese"),
    _c("the Netherlands", "Amsterdam", EU, "euro", "Dutch"),
    _c("Belgium", "Brussels", EU, "euro", None),
    _c("Austria", "Vienna", EU, "euro", "German"),
    _c("Ireland", "Dublin", EU, "euro", None),
    _c("Greece", "Athens", EU, "euro", "Greek"),
    _c("Finland", "Helsinki", EU, "euro", "Finnish"),
    _c("Sweden", "Stockholm", EU, "krona|Swedish krona", "Swedish"),
    _c("Norway", "Oslo", EU, "krone|Norwegian krone", "Norwegian"),
    _c("Denmark", "Copenhagen", EU, "krone|Danish krone", "Danish"),
    _c("Iceland", "Reykjavik", EU, "krona|Icelandic krona", "Icelandic"),
    _c("Poland", "Warsaw", EU, "zloty|Polish zloty", "Polish"),
    _c(
        "the Czech Republic",
        "Prague",
        EU,
        "koruna|Czech koruna|Czech crown|crown",
        "Czech",
        names="Czech Republic|Czechia",
    ),
    _c("Hungary", "Budapest", EU, "forint|Hungarian forint", "Hungarian"),
    _c("Romania", "Bucharest", EU, "leu|Romanian leu", "Romanian"),
    _c("Ukraine", "Kyiv|Kiev", EU, "hryvnia|Ukrainian hryvnia", "Ukrainian"),
    _c("Switzerland", None, EU, "Swiss franc|franc", None),
    _c(
        "the United Kingdom",
        "London",
        EU,
        "pound sterling|pound|British pound|sterling",
        "English",
        names="United Kingdom|UK|Britain",
    ),
    _c("Russia", "Moscow", None, "ruble|rouble|Russian ruble", "Russian"),
    _c("Turkey", "Ankara", None, "lira|Turkish lira", "Turkish"),
    _c("Japan", "Tokyo", AS, "yen|Japanese yen", "Japanese"),
    _c("China", "Beijing", AS, "renminbi|yuan|Chinese yuan", "Chinese|Mandarin|Mandarin Chinese|Standard Chinese"),
    _c("India", "New Delhi", AS, "rupee|Indian rupee", None),
    _c("South Korea", "Seoul", AS, "won|South Korean won|Korean won", "Korean"),
    _c("Thailand", "Bangkok", AS, "baht|Thai baht", "Thai"),
    _c("Vietnam", "Hanoi", AS, "dong|Vietnamese dong", "Vietnamese"),
    _c("Indonesia", None, AS, "rupiah|Indonesian rupiah", None),
    _c("the Philippines", "Manila", AS, "peso|Philippine peso", None, names="Philippines"),
    _c("Malaysia", "Kuala Lumpur", AS, "ringgit|Malaysian ringgit", None),
    _c("Pakistan", "Islamabad", AS, "rupee|Pakistani rupee", None),
    _c("Bangladesh", "Dhaka", AS, "taka|Bangladeshi taka", "Bengali|Bangla"),
    _c("Nepal", "Kathmandu", AS, "rupee|Nepalese rupee", "Nepali"),
    _c("Iran", "Tehran", AS, "rial|Iranian rial", "Persian|Farsi"),
    _c("Iraq", "Baghdad", AS, "dinar|Iraqi dinar", None),
    _c("Saudi Arabia", "Riyadh", AS, "riyal|Saudi riyal", "Arabic"),
    _c("Qatar", "Doha", AS, "riyal|Qatari riyal", "Arabic"),
    _c("Mongolia", "Ulaanbaatar|Ulan Bator", AS, "tugrik|togrog", "Mongolian"),
    _c("Afghanistan", "Kabul", AS, "afghani", None),
    _c("Egypt", "Cairo", AF, "Egyptian pound|pound", "Arabic"),
    _c("Nigeria", "Abuja", AF, "naira|Nigerian naira", None),
    _c("Kenya", "Nairobi", AF, "shilling|Kenyan shilling", None),
    _c("Uganda", "Kampala", AF, "shilling|Ugandan shilling", None),
    _c("Tanzania", "Dodoma", AF, "shilling|Tanzanian shilling", None),
    _c("Ethiopia", "Addis Ababa", AF, "birr|Ethiopian birr", None),
    _c("Morocco", "Rabat", AF, "dirham|Moroccan dirham", None),
    _c("Algeria", "Algiers", AF, "dinar|Algerian dinar", None),
    _c("Tunisia", "Tunis", AF, "dinar|Tunisian dinar", "Arabic"),
    _c("Ghana", "Accra", AF, "cedi|Ghanaian cedi", None),
    _c("Senegal", "Dakar", AF, "CFA franc|West African CFA franc|franc", None),
    _c("Angola", "Luanda", AF, "kwanza|Angolan kwanza", "Portuguese"),
    _c("South Africa", None, AF, "rand|South African rand", None),
    _c("Zimbabwe", "Harare", AF, None, None),
    _c(
        "the United States",
        "Washington, D.C.|Washington|Washington DC",
        NA,
        "United States dollar|US dollar|dollar",
        None,
        names="United States|United States of America|USA|US|America",
    ),
    _c("Canada", "Ottawa", NA, "Canadian dollar|dollar", None),
    _c("Mexico", "Mexico City", NA, "peso|Mexican peso", "Spanish"),
    _c("Cuba", "Havana", NA, "peso|Cuban peso", "Spanish"),
    _c("Jamaica", "Kingston", NA, "Jamaican dollar|dollar", None),
    _c("Guatemala", "Guatemala City", NA, "quetzal|Guatemalan quetzal", "Spanish"),
    _c("Costa Rica", "San Jose", NA, "colon|Costa Rican colon", "Spanish"),
    _c("Brazil", "Brasilia", SA, "real|Brazilian real", "Portuguese"),
    _c("Argentina", "Buenos Aires", SA, "peso|Argentine peso", "Spanish"),
    _c("Chile", "Santiago", SA, "peso|Chilean peso", "Spanish"),
    _c("Peru", "Lima", SA, "sol|Peruvian sol", "Spanish"),
    _c("Colombia", "Bogota", SA, "peso|Colombian peso", "Spanish"),
    _c("Venezuela", "Caracas", SA, "bolivar|Venezuelan bolivar", "Spanish"),
    _c("Uruguay", "Montevideo", SA, "peso|Uruguayan peso", "Spanish"),
    _c("Ecuador", "Quito", SA, "United States dollar|US dollar|dollar", "Spanish"),
    _c("Paraguay", "Asuncion", SA, "guarani|Paraguayan guarani", None),
    _c("Australia", "Canberra", OC, "Australian dollar|dollar", "English"),
    _c("New Zealand", "Wellington", OC, "New Zealand dollar|dollar", "English"),
    _c("Fiji", "Suva", OC, "Fijian dollar|dollar", None),
    _c("Papua New Guinea", "Port Moresby", OC, "kina|Papua New Guinean kina", None),
)

#: question templates about one country fact: attribute -> template
COUNTRY_TEMPLATES: dict[str, str] = {
    "capital": "What is the capital of {country}?",
    "continent": "On which continent is {country}?",
    "currency": "What is the currency of {country}?",
    "language": "What language is mainly spoken in {country}?",
}
#: the reverse question: the country, given its capital
CAPITAL_OF_TEMPLATE = "{capital} is the capital of which country?"

#: hand-written facts about people, dates and science: (question, accepted answers separated by "|")
GENERAL_FACTS: tuple[tuple[str, str], ...] = (
    ("Who wrote Romeo and Juliet?", "William Shakespeare|Shakespeare"),
    ("Who wrote Hamlet?", "William Shakespeare|Shakespeare"),
    ("Who wrote Pride and Prejudice?", "Jane Austen|Austen"),
    ("Who wrote Don Quixote?", "Miguel de Cervantes|Cervantes"),
    ("Who wrote War and Peace?", "Leo Tolstoy|Tolstoy"),
    ("Who wrote On the Origin of Species?", "Charles Darwin|Darwin"),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci|Leonardo|da Vinci"),
    ("Who painted The Starry Night?", "Vincent van Gogh|van Gogh"),
    ("Who painted the ceiling of the Sistine Chapel?", "Michelangelo"),
    ("Who developed the theory of relativity?", "Albert Einstein|Einstein"),
    ("Who formulated the law of universal gravitation?", "Isaac Newton|Newton"),
    ("Who was the first person to walk on the Moon?", "Neil Armstrong|Armstrong"),
    ("Who was the first president of the United States?", "George Washington|Washington"),
    ("Who discovered penicillin?", "Alexander Fleming|Fleming"),
    ("Who was the first woman to win a Nobel Prize?", "Marie Curie|Curie"),
    ("Who invented the World Wide Web?", "Tim Berners-Lee|Berners-Lee"),
    ("In which year did World War II end?", "1945"),
    ("In which year did World War I begin?", "1914"),
    ("In which year did the Berlin Wall fall?", "1989"),
    ("In which year did Apollo 11 land on the Moon?", "1969"),
    ("In which year did Christopher Columbus first reach the Americas?", "1492"),
    ("In which year did the Titanic sink?", "1912"),
    ("In which year did the French Revolution begin?", "1789"),
    ("In which year was the United States Declaration of Independence adopted?", "1776"),
    ("What is the chemical symbol for gold?", "Au"),
    ("What is the chemical symbol for silver?", "Ag"),
    ("What is the chemical symbol for iron?", "Fe"),
    ("What is the chemical symbol for sodium?", "Na"),
    ("What is the chemical symbol for copper?", "Cu"),
    ("What is the chemical symbol for lead?", "Pb"),
    ("What is the chemical symbol for potassium?", "K"),
    ("What is the chemical symbol for helium?", "He"),
    ("What is the largest planet in the Solar System?", "Jupiter"),
    ("Which planet is closest to the Sun?", "Mercury"),
    ("Which planet is known as the Red Planet?", "Mars"),
    ("What is the largest ocean on Earth?", "Pacific Ocean|Pacific"),
    ("What is the highest mountain on Earth above sea level?", "Mount Everest|Everest"),
    ("At how many degrees Celsius does water boil at sea level?", "100|one hundred"),
    ("How many days are there in a leap year?", "366"),
    ("How many sides does a hexagon have?", "6|six"),
    ("How many legs does a spider have?", "8|eight"),
    ("Which gas do plants take in from the air for photosynthesis?", "carbon dioxide|CO2"),
    ("Which mineral has a hardness of 10 on the Mohs scale?", "diamond"),
)


def all_questions() -> list[tuple[str, tuple[str, ...]]]:
    """Every question of the fact tables with its accepted answers (the first is the reference)."""
    questions: list[tuple[str, tuple[str, ...]]] = []
    for country in COUNTRIES:
        for attribute, template in COUNTRY_TEMPLATES.items():
            answers = getattr(country, attribute)
            if answers is not None:
                questions.append((template.format(country=country.name), answers))
        if country.capital is not None:
            questions.append((CAPITAL_OF_TEMPLATE.format(capital=country.capital[0]), country.names))
    for question, answers in GENERAL_FACTS:
        questions.append((question, tuple(answers.split("|"))))
    return questions


# -- scoring ---------------------------------------------------------------------------------


def normalize_token(chunk: str) -> str | None:
    """One whitespace-separated chunk as an answer token, or ``None`` if it drops out.

    Accents are removed, letters lowercased and punctuation deleted; an empty result
    or an article (``a``, ``an``, ``the``) drops out (SQuAD's normalisation, per chunk).
    """
    decomposed = unicodedata.normalize("NFKD", chunk)
    kept = "".join(
        ch
        for ch in decomposed.lower()
        if not unicodedata.combining(ch) and ch not in PUNCTUATION and not unicodedata.category(ch).startswith("P")
    )
    return kept if kept and kept not in ARTICLES else None


def answer_tokens(text: str) -> list[str]:
    """The normalised tokens of ``text`` (see :func:`normalize_token`)."""
    return [token for token in (normalize_token(chunk) for chunk in text.split()) if token is not None]


def f1_exact_score(overlap: int, num_predicted: int, num_gold: int, exact: bool) -> float:
    """``0.5 * F1 + 0.5 * EM`` from the token overlap, the token counts and exact equality."""
    if overlap == 0:
        f1 = 0.0
    else:
        precision, recall = overlap / num_predicted, overlap / num_gold
        f1 = 2 * precision * recall / (precision + recall)
    return F1_WEIGHT * f1 + EXACT_MATCH_WEIGHT * float(exact)


def answer_score(prediction: str, answers: Sequence[str]) -> float:
    """The best ``0.5 * F1 + 0.5 * EM`` of ``prediction`` over the accepted ``answers``."""
    predicted = answer_tokens(prediction)
    best = 0.0
    for answer in answers:
        gold = answer_tokens(answer)
        overlap = sum((Counter(predicted) & Counter(gold)).values())
        best = max(best, f1_exact_score(overlap, len(predicted), len(gold), predicted == gold))
    return best


def prompt_answers(prompt: Prompt, task_name: str = "qa") -> list[str]:
    """The accepted answers of a prompt: ``prompt.data["answers"]``, else ``[prompt.target]``."""
    answers = prompt.data.get("answers") or ([prompt.target] if prompt.target else None)
    if not answers or not all(isinstance(a, str) and answer_tokens(a) for a in answers):
        raise TaskError(
            f"task {task_name!r}: prompt {prompt.text!r} needs a target or data={{'answers': [non-empty str, ...]}}, "
            f"got {answers!r}"
        )
    return list(answers)


class GoldAnswer:
    """One accepted answer's tokens, with the running overlap and prefix agreement of the prediction."""

    __slots__ = ("tokens", "counts", "overlap", "prefix_matches")

    def __init__(self, answer: str) -> None:
        self.tokens = answer_tokens(answer)
        self.counts = Counter(self.tokens)
        self.overlap = 0
        self.prefix_matches = True  # the completed predicted tokens equal the first gold tokens


class AnswerScorer(Scorer):
    """Carries per-answer token overlaps: an update costs O(len(appended) + length of the unfinished chunk)."""

    def __init__(self, task: Task, prompt: Prompt) -> None:
        super().__init__(task, prompt)
        self.golds = [GoldAnswer(a) for a in prompt_answers(prompt, task.name)]
        self.predicted_counts: Counter = Counter()
        self.num_predicted = 0
        self.chunk = ""  # the unfinished last chunk
        self.stopped = False

    def _add_token(self, token: str) -> None:
        self.predicted_counts[token] += 1
        for gold in self.golds:
            if self.predicted_counts[token] <= gold.counts[token]:
                gold.overlap += 1
            position = self.num_predicted
            gold.prefix_matches = gold.prefix_matches and position < len(gold.tokens) and gold.tokens[position] == token
        self.num_predicted += 1

    def update(self, continuation: str, appended: str) -> float:
        for ch in appended:
            if self.stopped:
                break
            if ch == END_OF_ANSWER or ch.isspace():
                token = normalize_token(self.chunk) if self.chunk else None
                if token is not None:
                    self._add_token(token)
                self.chunk = ""
                self.stopped = ch == END_OF_ANSWER
            else:
                self.chunk += ch
        token = normalize_token(self.chunk) if self.chunk else None
        best = 0.0
        for gold in self.golds:
            overlap, num_predicted, prefix = gold.overlap, self.num_predicted, gold.prefix_matches
            if token is not None:
                overlap += self.predicted_counts[token] < gold.counts[token]
                prefix = prefix and num_predicted < len(gold.tokens) and gold.tokens[num_predicted] == token
                num_predicted += 1
            exact = prefix and num_predicted == len(gold.tokens)
            best = max(best, f1_exact_score(overlap, num_predicted, len(gold.tokens), exact))
        return best


class QATask(Task):
    """Answer a factual question in a few words, then end the line.

    ## Description
    The prompt is ``"Q: <question> A:"``, e.g. ``"Q: What is the capital of France? A:"``;
    the agent writes the answer (``" Paris"``) and ends it with a newline (or EOS).
    Questions come from templates over hand-written tables: capitals, continents,
    currencies and main languages of 76 countries, the country of a capital, and facts
    about people, dates and science. Some questions accept several answers
    (``"Shakespeare"`` or ``"William Shakespeare"``); the prompt's ``target`` is the first.

    ## Action Space
    ``Discrete(vocab_size)``: the next token id of the model's vocabulary (4096 for the
    bundled ``"tiny"`` model, including EOS ``<|endoftext|>`` and ``<pad>``).

    ## Observation Space
    ``Dict(input_ids=Box(0, vocab_size - 1, (L,), int64), attention_mask=Box(0, 1, (L,), int64))``:
    prompt tokens then generated tokens, right-padded; ``L = max_prompt_tokens + max_new_tokens``.

    ## Rewards
    Score, on the answer: the continuation before its first newline. Answer and
    accepted answers are split on whitespace; each chunk is normalised SQuAD-style
    (accents removed, lowercase, punctuation deleted) and dropped if empty or an article
    (``a``, ``an``, ``the``). Against one accepted answer, ``F1`` is the token F1
    (``2 P R / (P + R)`` of the token overlap) and ``EM`` is 1 if the token lists are
    equal; ``score = max over accepted answers of 0.5 * F1 + 0.5 * EM``. Range ``[0, 1]``,
    1 exactly for a right answer (``"The Paris."`` counts); ``score("") = 0``. The last
    word counts as written even if the next token would extend it.

    - dense: ``r_t = score(c_{t+1}) - score(c_t)``. Writing ``" The"``, ``" Paris"``,
      ``"\\n"`` gives scores ``0, 1, 1``, so rewards ``0, +1, 0``. For ``"Who wrote
      Hamlet?"``, ``" William"`` scores ``1/3`` (F1 ``2/3`` against ``"William
      Shakespeare"``); a token that starts the next word lowers it (``" William S"``
      scores ``1/4``: ``"s"`` is a wrong second token) until ``" Shakespeare"`` is
      complete (1).
    - sparse: 0 at every step and ``score`` at the last one: ``0, 0, 1``.

    ## Starting State
    A question drawn uniformly from the split (310 train, 77 eval; disjoint) with the
    environment's seeded RNG.

    ## Episode End
    - Termination: the continuation contains a newline, or the agent emits EOS, or ``max_new_tokens`` tokens
      generated (default 16): the horizon is part of the task, so it terminates too (``info["end_reason"]``
      says which end came).
    - Truncation: never by the env; only an outer time limit (``max_episode_steps``).

    ## Arguments
    ``gym.make("textgym/QA-v0", model="tiny", reward_mode="dense", max_new_tokens=16, split="train")``.

    ## Version History
    - v0: initial version.
    """

    name = "qa"
    description = "answer the factual question in a few words, then end the line"
    score_range = (0.0, 1.0)
    max_new_tokens = 16
    model = "tiny"

    def __init__(self, prompts: PromptsLike | None = None) -> None:
        """The task on the shipped prompt set, or on yours.

        Args:
            prompts: your prompts instead of the shipped set: a list, a dict of splits, a
                ``.jsonl``/``.csv``/``.txt`` path or a ``datasets`` object (see
                :class:`~textgym.task.Task`); each needs a ``target`` (the answer) or an
                ``answers`` field (a list of accepted answers).
        """
        super().__init__(prompts=prompts)

    def check_prompt(self, prompt: Prompt) -> None:
        """A prompt needs a ``target`` or ``data["answers"]``: the accepted answers."""
        prompt_answers(prompt, self.name)

    def load_prompts(self, split: str) -> list[Prompt]:
        return load_prompts("qa", split)

    def score(self, prompt: Prompt, continuation: str) -> float:
        return answer_score(continuation.split(END_OF_ANSWER, 1)[0], prompt_answers(prompt, self.name))

    def scorer(self, prompt: Prompt) -> Scorer:
        return AnswerScorer(self, prompt)

    def is_finished(self, prompt: Prompt, continuation: str) -> bool:
        return END_OF_ANSWER in continuation


def generate_prompt_set(seed: int = 0, eval_fraction: float = 0.2) -> dict[str, list[dict]]:
    """Every question of the fact tables, shuffled (seeded) and split into train and eval."""
    questions = all_questions()
    random.Random(seed).shuffle(questions)
    num_eval = round(len(questions) * eval_fraction)
    records = [
        {
            "text": PROMPT_TEMPLATE.format(question=question),
            "target": answers[0],
            "data": {"question": question, "answers": list(answers)},
        }
        for question, answers in questions
    ]
    return {"train": records[num_eval:], "eval": records[:num_eval]}
