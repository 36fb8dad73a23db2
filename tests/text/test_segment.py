"""Sentence splitting and segmentation, as properties over realistic documents in five languages."""

from __future__ import annotations

import pickle
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ultralink.text.segment as segment_mod
from ultralink.core.counters import Counters
from ultralink.core.records import Document
from ultralink.text.segment import DocLengthFilter, SegmentDocuments, Segmenter, segment_id
from ultralink.text.sentences import ends_sentence, split_sentences
from ultralink.text.tokens import get_encoding

# Realistic sentences per language: abbreviations that must not end a sentence, decimals,
# quotes, brackets; every one ends with a sentence end.
SENTENCES: dict[str, list[str]] = {
    "en": [
        "Mr. Smith met Dr. Jones at St. Paul's Cathedral in 1851.",
        "The bridge is approx. 3.5 km long and carries two railway tracks.",
        "Its population grew by 12.7 percent between 1990 and 2000.",
        'He later wrote, "The sea was calm and the night was clear."',
        "Several metals, e.g. copper and tin, were traded along the coast.",
        "The company, Acme Inc. of Ohio, was founded by John Smith Jr. in 1902.",
        "Why did the empire collapse so quickly?",
        "The river floods every spring!",
        "Prof. Miller (a botanist) described the species in No. 4 of the journal.",
        "The town lies near Mt. Hood, i.e. in the north of the state.",
        "Gen. Grant and Col. Lee met at the courthouse vs. the hotel as first planned.",
        "Trade in wool, grain, timber etc. made the port wealthy.",
        "The cathedral was rebuilt after the fire of 1666.",
        "Her second novel sold more than 2,000,000 copies.",
        "The old bridge (built 1820) was replaced in 1932.",
    ],
    "zh": [
        "北京是中华人民共和国的首都。",
        "这座城市有三千多年的历史！",
        "你知道长城有多长吗？",
        "他说：“这里的冬天很冷。”",
        "该河全长约3.5公里，流经三个省份。",
        "1949年10月1日，中华人民共和国成立。",
        "这座寺庙始建于唐代，后来多次重修。",
        "《红楼梦》是中国古典小说的代表作之一。",
        "当地人口约为120万人，其中汉族占多数。",
        "为什么这种植物只生长在高山上？",
        "这是一个非常重要的发现!",
        "研究人员认为，气候变化是主要原因?",
        "该公司成立于2001年，总部位于上海。",
        "湖泊面积为4.2平方公里（包括岛屿）。",
        "他的作品在国内外都很有影响。",
    ],
    "ru": [
        "Это было в 1900 г. в Москве.",
        "Он жил на ул. Ленина, т.е. в самом центре города.",
        "Проф. Иванов опубликовал статью в журнале им. Павлова.",
        "В XIX в. здесь было построено много церквей, школ и т. д. для жителей.",
        "Длина моста составляет 3.5 км.",
        "Город основан в 300 г. до н. э. и позже был разрушен.",
        "См. также работы акад. Петрова о древней истории.",
        "Население города составляет около 120 тыс. человек.",
        "Почему река меняет своё русло каждые сто лет?",
        "Он сказал: «Мы вернёмся сюда весной».",
        "Собор св. Николая был восстановлен в 1990-х годах!",
        "Бюджет проекта составил 2 млн. руб. по данным министерства.",
        "Река впадает в озеро (т. к. другого стока нет) на севере.",
        "Экспедиция продолжалась три года.",
    ],
    "fr": [
        "M. Dupont est arrivé à Paris en 1850.",
        "Il a rencontré Mme. Martin, c.-à-d. sa voisine, au marché.",
        "Le pont mesure environ 3,5 km de long.",
        "Il a dit « Bonjour à tous. » avant de partir.",
        "Pourquoi la ville a-t-elle été abandonnée ?",
        "Quelle surprise pour les habitants !",
        "La ville fut fondée en 52 av. J.-C. par les Romains.",
        "Voir p. ex. le chap. 3 du vol. 2 pour plus de détails.",
        "MM. Durand et Leroy ont signé le traité en 1815.",
        "La cathédrale, reconstruite après l'incendie, attire de nombreux visiteurs.",
        "Le fleuve traverse la région du sud au nord.",
        "La population a augmenté de 12,7 % entre 1990 et 2000.",
        "L'église Ste. Anne (construite en 1620) est classée monument historique.",
        "Les habitants vivaient de la pêche, de l'agriculture, etc. jusqu'au XXe siècle.",
    ],
    "es": [
        "El Sr. García llegó a Madrid en 1850.",
        "La Sra. López habló con el Dr. Pérez sobre el proyecto.",
        "Nació en el año 50 a. C. en una pequeña aldea.",
        "El puente mide aprox. 3.5 km de largo.",
        "Muchas especies, p. ej. el lince, viven en la sierra.",
        "¿Por qué cayó el imperio tan rápidamente?",
        "¡Qué sorpresa para todos los vecinos!",
        "Vive en EE. UU. desde el año 2000.",
        "Trabaja en Acme S.A. con su hermano menor.",
        "Según el autor, «la ciudad nunca fue tan próspera».",
        "La catedral (construida en 1620) es la más antigua de la región.",
        "La población creció un 12,7 % entre 1990 y 2000.",
        "El río atraviesa la provincia de norte a sur.",
        "La Srta. Ruiz ganó el premio núm. 3 del certamen.",
    ],
}
LANGS = sorted(SENTENCES)
SEP = {"zh": ""}   # sentences inside a paragraph are joined by a space, except in Chinese
MAX_SENTENCE_TOKENS = 45   # checked below; keeps the property windows free of long-sentence cuts

PROPS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def squash(s: str) -> str:
    """Text with all whitespace removed: how segments are compared with their document."""
    return re.sub(r"\s+", "", s)


class CountingEncoding:
    """Wraps a tiktoken encoding, counting texts and characters encoded (linearity without timing)."""

    def __init__(self, enc) -> None:
        self.enc = enc
        self.name = enc.name
        self.texts = 0
        self.chars = 0

    def encode_ordinary(self, text: str) -> list[int]:
        self.texts += 1
        self.chars += len(text)
        return self.enc.encode_ordinary(text)

    def encode_ordinary_batch(self, texts: list[str], **kw) -> list[list[int]]:
        self.texts += len(texts)
        self.chars += sum(map(len, texts))
        return self.enc.encode_ordinary_batch(texts, **kw)

    def decode_with_offsets(self, tokens):
        return self.enc.decode_with_offsets(tokens)


@st.composite
def documents(draw, lang: str, max_sentences: int = 60):
    """(text, sentences in order) with random paragraphing; every sentence ends a sentence."""
    pool = SENTENCES[lang]
    idx = draw(st.lists(st.integers(0, len(pool) - 1), min_size=1, max_size=max_sentences))
    sentences = [pool[i] for i in idx]
    breaks = draw(st.lists(st.booleans(), min_size=len(sentences), max_size=len(sentences)))
    parts: list[str] = []
    for i, s in enumerate(sentences):
        parts.append(s)
        if i < len(sentences) - 1:
            parts.append("\n\n" if breaks[i] else SEP.get(lang, " "))
    return "".join(parts), sentences


def boundaries(sentences: list[str]) -> set[int]:
    """Offsets (in squashed text) where a sentence starts or ends."""
    out, at = {0}, 0
    for s in sentences:
        at += len(squash(s))
        out.add(at)
    return out


def check_segments(text: str, sentences: list[str], pieces, counters: Counters,
                   lo: int, hi: int, lang: str) -> None:
    enc = get_encoding()
    cuts = boundaries(sentences)
    at = 0
    for p in pieces:
        assert lo <= p.n_tokens <= hi
        assert p.n_tokens == len(enc.encode_ordinary(p.text))        # exact for the stored text
        assert p.text == p.text.strip() and p.text in text
        assert at in cuts, "segment starts mid-sentence"
        at += len(squash(p.text))
        assert at in cuts, "segment ends mid-sentence"
        assert ends_sentence(p.text, lang)
    whole = squash(text)
    assert whole.startswith("".join(squash(p.text) for p in pieces))  # in order, nothing skipped
    rest = whole[at:]
    if rest:   # only a dropped final remainder may be missing, and it is counted
        assert counters.counts["dropped_remainder"] == 1
        assert 0 < counters.counts["remainder_tokens_dropped"] < lo
    else:
        assert counters.counts["dropped_remainder"] == 0


# -- sentences ---------------------------------------------------------------------------------

def test_corpus_sentences_are_short_and_end_sentences():
    enc = get_encoding()
    for lang, pool in SENTENCES.items():
        for s in pool:
            assert len(enc.encode_ordinary(s)) <= MAX_SENTENCE_TOKENS, s
            assert ends_sentence(s, lang), s


@pytest.mark.parametrize("lang", LANGS)
def test_each_corpus_sentence_stays_whole(lang):
    """No cut after "Sr.", "т.е.", "M.", "c.-à-d.", "p. ej." or inside 3.5."""
    for s in SENTENCES[lang]:
        assert split_sentences(s, lang) == [s]


@pytest.mark.parametrize("lang", LANGS)
@given(data=st.data())
@settings(max_examples=20, deadline=None)
def test_split_sentences_is_lossless_and_finds_every_sentence(lang, data):
    text, sentences = data.draw(documents(lang, max_sentences=25))
    pieces = split_sentences(text, lang)
    assert "".join(pieces) == text
    assert [squash(p) for p in pieces] == [squash(s) for s in sentences]


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "  Hello there. ", "a\n\n\n\nb. c", "No end"])
def test_split_sentences_edge_cases_are_lossless(text):
    assert "".join(split_sentences(text, "en")) == text


def test_paragraph_break_always_ends_a_sentence():
    pieces = split_sentences("A heading\n\nThe text starts here. It goes on", "en")
    assert pieces == ["A heading\n\n", "The text starts here. ", "It goes on"]


def test_chinese_splits_after_full_and_half_width_ends():
    text = "第一句。第二句！第三句？第四句!第五句?价格是3.5元。"
    assert split_sentences(text, "zh") == ["第一句。", "第二句！", "第三句？", "第四句!", "第五句?",
                                           "价格是3.5元。"]


def test_capitalised_abbreviation_at_sentence_start():
    assert split_sentences("Approx. 5 people came. Then rain.", "en") == [
        "Approx. 5 people came. ", "Then rain."]


@pytest.mark.parametrize("piece,lang,expected", [
    ("It ended.", "en", True), ('He said "Go."  ', "en", True), ("No end", "en", False),
    ("他说：“很好。”", "zh", True), ("很好（注）", "zh", False), ("« Oui. »", "fr", True),
    ("Он сказал: «Да!»", "ru", True), ("", "en", False),
])
def test_ends_sentence(piece, lang, expected):
    assert ends_sentence(piece, lang) is expected


# -- segmentation properties -----------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
@given(data=st.data())
@PROPS
def test_segments_are_bounded_sentence_aligned_and_lossless(lang, data):
    lo = data.draw(st.integers(40, 120), label="min")
    hi = lo + data.draw(st.integers(MAX_SENTENCE_TOKENS, 150), label="width")
    text, sentences = data.draw(documents(lang))
    counters = Counters()
    seg = Segmenter(lang, lo, hi)
    pieces = seg.segment(text, counters)
    check_segments(text, sentences, pieces, counters, lo, hi, lang)
    assert counters.counts["long_sentence_splits"] == 0
    assert seg.segment(text, Counters()) == pieces                      # deterministic
    assert pickle.loads(pickle.dumps(seg)).segment(text, Counters()) == pieces


@pytest.mark.parametrize("lang", LANGS)
def test_real_bounds_on_a_long_document(lang):
    """The paper's 1K–2K on a ~10K-token document."""
    pool = SENTENCES[lang]
    sentences = [pool[(i * 7) % len(pool)] for i in range(600)]
    parts = []
    for i, s in enumerate(sentences):
        parts.append(s + ("\n\n" if i % 6 == 5 else SEP.get(lang, " ")))
    text = "".join(parts).strip()
    counters = Counters()
    pieces = Segmenter(lang).segment(text, counters)
    assert len(pieces) >= 4
    check_segments(text, sentences, pieces, counters, 1000, 2000, lang)


def test_prefers_the_last_paragraph_break_in_the_window():
    s = "The river floods every spring and the farmers move their herds uphill. "  # ~14 tokens
    paras = [s * 3, s * 3, s * 3, s * 3]
    text = "\n\n".join(p.strip() for p in paras)
    pieces = Segmenter("en", 40, 120).segment(text, Counters())
    assert pieces[0].text.endswith("uphill.") and "\n\n" in pieces[0].text
    first = pieces[0].text + "\n\n"
    assert text.startswith(first), "first segment ends at a paragraph break"


# -- long sentences, remainders, short documents --------------------------------------------

@pytest.mark.parametrize("lang,clause", [("en", ", "), ("fr", ", "), ("ru", ", "), ("es", "; "),
                                         ("zh", "，")])
def test_long_sentence_is_cut_at_clause_breaks(lang, clause):
    word = "长江流域的城市" if lang == "zh" else "the river valley towns"
    long_sentence = clause.join([word] * 120) + ("。" if lang == "zh" else ".")
    counters = Counters()
    pieces = Segmenter(lang, 50, 100).segment(long_sentence, counters)
    assert counters.counts["long_sentence_splits"] >= 3
    assert all(50 <= p.n_tokens <= 100 for p in pieces[:-1]) and pieces[-1].n_tokens <= 100
    assert all(p.text.rstrip().endswith(clause.strip()) for p in pieces[:-1])
    kept = "".join(squash(p.text) for p in pieces)
    assert squash(long_sentence).startswith(kept)


def test_long_sentence_without_breaks_is_cut_at_tokens():
    text = "x" * 5000   # no spaces, no clause breaks
    counters = Counters()
    pieces = Segmenter("en", 50, 100).segment(text, counters)
    assert counters.counts["long_sentence_splits"] >= 5
    assert all(50 <= p.n_tokens <= 100 for p in pieces)
    assert "".join(p.text for p in pieces) == text[: sum(len(p.text) for p in pieces)]


def test_sentence_that_would_overshoot_the_window_is_cut():
    short = "The river floods every spring. "                       # 6 tokens
    long = ", ".join(["and the farmers move their herds"] * 12) + ". "   # ~80 tokens
    text = (short * 6 + long) * 3
    counters = Counters()
    pieces = Segmenter("en", 60, 90).segment(text, counters)
    assert counters.counts["long_sentence_splits"] >= 1
    assert all(60 <= p.n_tokens <= 90 for p in pieces)


def test_short_remainder_is_merged_when_it_fits():
    s = "The river floods every spring. "        # 6 tokens each
    text = (s * 18).strip()                      # 108 tokens: one segment of 50..100 + 8
    counters = Counters()
    pieces = Segmenter("en", 50, 120).segment(text, counters)
    assert len(pieces) == 1 and pieces[0].text == text
    assert counters.counts["dropped_remainder"] == 0


def test_short_remainder_is_dropped_and_counted_when_it_does_not_fit():
    s = "The river floods every spring. "        # 6 tokens each
    text = (s * 19).strip()                      # 114 tokens > max, < 2 * min
    counters = Counters()
    pieces = Segmenter("en", 60, 100).segment(text, counters)
    assert len(pieces) == 1 and 60 <= pieces[0].n_tokens <= 100
    assert text.startswith(pieces[0].text)
    assert counters.counts["dropped_remainder"] == 1
    dropped = counters.counts["remainder_tokens_dropped"]
    assert 0 < dropped < 60 and pieces[0].n_tokens + dropped >= 112


def test_tail_is_kept_long_enough_when_possible():
    s = "The river floods every spring. "
    text = (s * 30).strip()                      # 180 tokens, 50..150: two segments, no drop
    counters = Counters()
    pieces = Segmenter("en", 50, 150).segment(text, counters)
    assert len(pieces) == 2 and all(50 <= p.n_tokens <= 150 for p in pieces)
    assert counters.counts["dropped_remainder"] == 0


@pytest.mark.parametrize("text", ["", "   \n\n ", "Too short. Really."])
def test_document_shorter_than_min_gives_no_segment(text):
    counters = Counters()
    assert Segmenter("en", 50, 100).segment(text, counters) == []
    assert counters.counts["dropped_remainder"] == (1 if text.strip() else 0)


# -- the exact count of a run of sentences without re-encoding it ----------------------------

PIECES = st.sampled_from(list("ab Z.,'\"\n\t。我们1é\u00a0") + ["  ", "\n\n", "the", " word", ". "])


@given(data=st.data())
@settings(max_examples=300, deadline=None)
def test_run_count_equals_encoding_the_run(data):
    """Whatever the units, the count of a run (sum of units where pre-tokenizer pieces must
    split, else a re-encode) is the count of encoding the stripped run."""
    text = "".join(data.draw(st.lists(PIECES, min_size=3, max_size=40), label="text"))
    seg = Segmenter("en", 1, 10)
    encode = seg._tokenizer.encode_ordinary
    positions = range(1, len(text))
    safe = [p for p in positions if segment_mod._piece_boundary(text, p)]
    any_cuts = data.draw(st.lists(st.sampled_from(positions), max_size=12, unique=True), label="any")
    safe_cuts = data.draw(st.lists(st.sampled_from(safe), min_size=min(2, len(safe)), max_size=12,
                                   unique=True), label="safe") if safe else []
    for cuts in (any_cuts, safe_cuts):   # mostly re-encoded; summed
        bounds = [0, *sorted(cuts), len(text)]
        units = [segment_mod._Unit(a, b, len(encode(text[a:b])), 0) for a, b in zip(bounds, bounds[1:])]
        assert seg._count(text, units) == seg._exact(text, 0, len(text))


# -- linearity, without timing -----------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_encoding_work_is_linear(lang, monkeypatch):
    """Each sentence is encoded once and each segment once (or only its first and last
    sentence, where its count is the sum of its sentences'): never a growing prefix."""
    pool = SENTENCES[lang]
    results = []
    for n in (200, 400, 800):
        sentences = [pool[(i * 5) % len(pool)] for i in range(n)]
        text = "\n\n".join(SEP.get(lang, " ").join(sentences[i:i + 4]) for i in range(0, n, 4))
        counting = CountingEncoding(get_encoding())
        monkeypatch.setattr(segment_mod, "get_encoding", lambda name, c=counting: c)
        pieces = Segmenter(lang, 100, 200).segment(text, Counters())
        assert n <= counting.texts <= n + 2 * len(pieces) + 2
        assert counting.chars <= 2 * len(text) + 400    # + the one merged remainder at most
        results.append(counting.chars / len(text))
    assert max(results) - min(results) < 0.2            # chars encoded per char: constant


# -- stages ------------------------------------------------------------------------------------

def _doc(text: str, lang: str = "en", doc_id: str = "42") -> Document:
    return Document(doc_id=doc_id, title="T", url="https://x/T", language=lang, text=text,
                    source_file="f.xml")


def test_segment_documents_step():
    text = ("The river floods every spring. " * 40).strip()
    step = SegmentDocuments(min_tokens=50, max_tokens=100)
    step = pickle.loads(pickle.dumps(step))
    step.setup()
    counters = Counters()
    segs = list(step.run([_doc(text), _doc(SENTENCES["zh"][0] * 30, "zh", "7")], counters))
    assert [s.segment_index for s in segs if s.doc_id == "42"] == list(range(3))
    assert all(s.id == segment_id(s.language, s.doc_id, s.segment_index) for s in segs)
    assert len({s.id for s in segs}) == len(segs)
    assert counters.counts["segments"] == len(segs)
    assert counters.counts["segment_tokens"] == sum(s.n_tokens for s in segs)
    assert segs[0].source_file == "f.xml" and segs[0].title == "T"
    again = list(SegmentDocuments(50, 100).run([_doc(text)], Counters()))
    assert [s.id for s in again] == [s.id for s in segs if s.doc_id == "42"]


def test_segment_id_is_stable_and_distinct():
    assert segment_id("en", "42", 0) == segment_id("en", "42", 0)
    assert len({segment_id("en", "42", 0), segment_id("en", "42", 1), segment_id("fr", "42", 0),
                segment_id("en", "420", 0)}) == 4


def test_doc_length_filter():
    f = DocLengthFilter(min_tokens=10, max_tokens=20)
    f.setup()
    docs = [_doc("Short."), _doc(("The river floods every spring. " * 3).strip()),
            _doc(("word " * 50).strip())]
    counters = Counters()
    kept = list(f.run(docs, counters))
    assert kept == [docs[1]] and docs[1].n_tokens == 18
    assert counters.dropped() == {"too_short": 1, "too_long": 1}
    assert docs[0].n_tokens == 2 and docs[2].n_tokens == 50


def test_doc_length_stops_counting_once_past_max():
    enc = get_encoding()
    text = " ".join(SENTENCES["en"] * 4)
    full = segment_mod.sentence_units(text, "en", enc)
    total = sum(u.n for u in full)
    head = segment_mod.sentence_units(text, "en", enc, stop_above=40)
    assert 40 < sum(u.n for u in head) < total
    assert [(u.start, u.end, u.n) for u in head] == [(u.start, u.end, u.n) for u in full[:len(head)]]
    assert segment_mod.sentence_units(text, "en", enc, stop_above=total) == full   # never past it
    f = DocLengthFilter(min_tokens=10, max_tokens=40)
    f.setup()
    doc = _doc(text)
    counters = Counters()
    assert list(f.run([doc], counters)) == [] and counters.dropped() == {"too_long": 1}
    assert 40 < doc.n_tokens < total


@pytest.mark.parametrize("lo,hi", [(0, 10), (20, 10)])
def test_bad_bounds_are_rejected(lo, hi):
    with pytest.raises(ValueError, match="min_tokens"):
        Segmenter("en", lo, hi)


# -- fast paths agree with their plain definitions ---------------------------------------------

@pytest.mark.parametrize("text", ["a \u00a0\n \n\n b\n\nc \n\t\n", " \n\n", "\n\n x", "x  \n\n",
                                  "a\r\n\r\nb", "one\ntwo\n \nthree", "no break"])
def test_paragraph_breaks_match_the_regex(text):
    from ultralink.text.sentences import _PARAGRAPH_BREAK, _paragraph_breaks
    assert _paragraph_breaks(text) == [m.span() for m in _PARAGRAPH_BREAK.finditer(text)]


@given(st.text(alphabet=" \t\u00a0\n.»”)x", max_size=30))
@settings(max_examples=200, deadline=None)
def test_ends_sentence_matches_its_regex_definition(piece):
    from ultralink.text.sentences import _TRAILING_CLOSERS
    stripped = _TRAILING_CLOSERS.sub("", piece)
    assert ends_sentence(piece, "en") is (bool(stripped) and stripped[-1] in ".!?")


@pytest.mark.parametrize("lang", ["en", "ru", "fr", "es"])
def test_abbreviation_pattern_matches_its_plain_definition(lang):
    """The grouped, "\\b"-anchored pattern finds exactly what the plain alternation finds."""
    from ultralink.core.languages import get_language
    from ultralink.text.sentences import _abbreviation_pattern
    abbrevs = set(get_language(lang).abbreviations)
    abbrevs |= {a[0].upper() + a[1:] for a in abbrevs if a[:1].islower()}
    alts = [r"\s+".join(re.escape(p) for p in a.split())
            for a in sorted(abbrevs, key=len, reverse=True)]
    plain = re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")[^\S\n]*")
    fast = _abbreviation_pattern(lang)
    texts = [" ".join(SENTENCES[lang]), "\n".join(abbrevs), "x".join(abbrevs), "".join(abbrevs),
             "  ".join(sorted(abbrevs)), "т.\u00a0е. и т.\n е.", "1Dr. 2Mr. _St. ДоН. э."]
    for t in texts:
        assert [m.span() for m in fast.finditer(t)] == [m.span() for m in plain.finditer(t)]
