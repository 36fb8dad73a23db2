"""Realistic sentences in five languages and the checks every segmentation test shares."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ultralink.core.counters import Counters
from ultralink.core.records import Document
from ultralink.text.sentences import ends_sentence
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
MAX_SENTENCE_TOKENS = 45   # checked in test_sentences; keeps property windows free of long cuts

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


def make_doc(text: str, lang: str = "en", doc_id: str = "42") -> Document:
    return Document(doc_id=doc_id, title="T", url="https://x/T", language=lang, text=text,
                    source_file="f.xml")
