"""Language registry: everything language-specific that code needs, in one table.

A new language is one :class:`Language` entry here plus ``prompts/<code>.yaml``; no other
code changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Language:
    code: str                      # ISO 639-1, also the fastText label suffix and prompt file stem
    name: str
    opencc: str | None = None      # OpenCC config applied to text and generated output ("t2s")
    # regional → standard terms applied after OpenCC (a file in ultralink/text/data/)
    terms: str | None = None
    sentence_ends: str = ".!?"     # characters that can end a sentence (after the splitter)
    clause_breaks: str = ",;:"     # where an over-long sentence may be cut
    abbreviations: tuple[str, ...] = ()   # extra non-final abbreviations beyond the splitter's own
    redirect_words: tuple[str, ...] = ("#REDIRECT",)
    disambiguation_templates: tuple[str, ...] = ("disambiguation", "disambig", "dab")
    # a script no other lid.176 language writes (without kana/hangul): text mostly in it is
    # this language even where fastText, thrown by code and Latin names, scores it low
    own_script: str | None = None
    merges_sentences: bool = False   # translations may join the source's sentences
    # the wiki writes LanguageConverter markup (-{zh-cn:软件; zh-tw:軟體}-) that cleaning resolves
    variant_markup: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def standardizes(self) -> bool:
        """Whether text and output go through ``chinese.standardize`` (OpenCC, term table)."""
        return bool(self.opencc or self.terms)

    @property
    def fasttext_label(self) -> str:
        return "__label__" + self.code

    @property
    def prompt_file(self) -> str:
        return f"prompts/{self.code}.yaml"


LANGUAGES: dict[str, Language] = {
    "en": Language(
        code="en", name="English",
        abbreviations=("Mr.", "Mrs.", "Ms.", "Dr.", "Sr.", "Jr.", "St.", "Prof.", "Gen.", "Col.",
                       "Lt.", "Mt.", "vs.", "etc.", "e.g.", "i.e.", "approx.", "No.", "Inc.", "Co.",
                       "vol.", "Vol.", "pp.", "fig.", "Fig.", "ca.", "cf.", "Ltd.", "a.m.", "p.m."),
        disambiguation_templates=("disambiguation", "disambig", "dab", "hndis", "geodis",
                                  "set index article", "surname", "given name"),
    ),
    "zh": Language(
        code="zh", name="Chinese", opencc="t2s", terms="zh_tw_terms.tsv",
        own_script=r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", merges_sentences=True,
        variant_markup=True,
        sentence_ends="。！？!?；….", clause_breaks="，、；：,;:",
        redirect_words=("#REDIRECT", "#重定向"),
        disambiguation_templates=("disambig", "disambiguation", "消歧义", "消歧義", "dab"),
    ),
    "ru": Language(
        code="ru", name="Russian",
        abbreviations=("т.е.", "т. е.", "т.д.", "т. д.", "т.п.", "т. п.", "т.к.", "т. к.", "др.",
                       "г.", "гг.", "в.", "вв.", "им.", "ул.", "см.", "с.", "стр.", "напр.", "проф.",
                       "акад.", "св.", "тыс.", "млн.", "млрд.", "руб.", "н. э.", "н.э.", "до н. э.",
                       "ок.", "рис.", "табл.", "пос.", "обл.", "гл.", "оз.", "р.", "пр.", "род.", "ум.",
                       "ст.", "т. н.", "т.н."),
        redirect_words=("#REDIRECT", "#ПЕРЕНАПРАВЛЕНИЕ", "#перенаправление"),
        disambiguation_templates=("неоднозначность", "disambig", "многозначность", "омонимы"),
    ),
    "fr": Language(
        code="fr", name="French",
        abbreviations=("M.", "MM.", "Mme.", "Mlle.", "Dr.", "St.", "Ste.", "etc.", "c.-à-d.",
                       "p. ex.", "av.", "apr.", "J.-C.", "env.", "n°.", "vol.", "chap.", "Mgr.", "s.", "fig.",
                       "cf.", "éd."),
        redirect_words=("#REDIRECT", "#REDIRECTION"),
        disambiguation_templates=("homonymie", "disambig", "patronymie", "homonymie de personnes"),
    ),
    "es": Language(
        code="es", name="Spanish",
        abbreviations=("Sr.", "Sra.", "Srta.", "Dr.", "Dra.", "Ud.", "Uds.", "etc.", "p. ej.",
                       "aprox.", "núm.", "pág.", "a. C.", "d. C.", "EE. UU.", "S.A.", "Dña.", "D.", "Av.",
                       "Gral.", "Sta.", "Sto.", "art.", "cap.", "s.", "fig.", "vol."),
        redirect_words=("#REDIRECT", "#REDIRECCIÓN", "#REDIRECCION"),
        disambiguation_templates=("desambiguación", "desambiguacion", "disambig"),
    ),
}


def get_language(code: str) -> Language:
    """Look up a language, naming the known ones when it is missing."""
    try:
        return LANGUAGES[code]
    except KeyError:
        known = ", ".join(sorted(LANGUAGES))
        raise ValueError(f"unknown language {code!r}; known: {known} "
                         f"(add an entry to ultralink/core/languages.py and prompts/{code}.yaml)") from None
