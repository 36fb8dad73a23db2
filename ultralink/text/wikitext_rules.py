"""What the wikitext renderer keeps and drops: namespaces, sections, tags, templates, markers.

The renderer (``wikitext_render``), the tidy pass (``tidy``) and the node-tree oracle in
``tests/text/reference_renderer.py`` must apply the very same rules, so the rules live here,
apart from the code that walks the markup. Localized tables cover every registry language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

# Localized namespace names (lower-cased) whose links are media or categories, not prose.
# The canonical English names work on every wiki, so they are always added.
FILE_NAMESPACES: dict[str, tuple[str, ...]] = {
    "en": ("file", "image", "media"),
    "ru": ("файл", "изображение", "медиа"),
    "fr": ("fichier", "image", "média"),
    "es": ("archivo", "imagen", "medio"),
    "zh": ("文件", "檔案", "档案", "图像", "圖像", "文件檔案", "媒体", "媒體"),
}
CATEGORY_NAMESPACES: dict[str, tuple[str, ...]] = {
    "en": ("category",),
    "ru": ("категория",),
    "fr": ("catégorie",),
    "es": ("categoría",),
    "zh": ("分类", "分類"),
}

# Section titles (case-folded) whose whole section is apparatus, not knowledge: dropped with
# their subsections. English is always included (editors copy English headings).
BOILERPLATE_SECTIONS: dict[str, tuple[str, ...]] = {
    "en": ("references", "external links", "see also", "notes", "notes and references",
           "references and notes", "footnotes", "citations", "sources", "further reading",
           "bibliography", "external link", "reference"),
    "ru": ("примечания", "литература", "ссылки", "см. также", "источники", "сноски",
           "комментарии", "примечания и источники"),
    "fr": ("références", "liens externes", "voir aussi", "notes et références", "notes",
           "bibliographie", "articles connexes", "sources", "lien externe", "annexes"),
    "es": ("referencias", "enlaces externos", "véase también", "notas", "bibliografía",
           "fuentes", "notas y referencias", "enlace externo", "otras lecturas"),
    "zh": ("参考文献", "參考文獻", "外部链接", "外部連結", "外部鏈接", "外部連接", "参见", "參見",
           "参考资料", "參考資料", "参考", "參考", "注释", "註釋", "脚注", "腳註", "延伸阅读",
           "延伸閱讀", "相关条目", "相關條目", "参考来源", "參考來源"),
}

# Tags whose contents are never prose.
DROP_TAGS = frozenset({
    "ref", "references", "gallery", "timeline", "imagemap", "score", "graph", "templatedata",
    "mapframe", "maplink", "inputbox", "categorytree", "includeonly", "indicator", "table",
    "style", "script", "templatestyles", "section", "charinsert", "hiero",
})
MATH_TAGS = frozenset({"math", "chem", "ce"})
BLOCK_TAGS = frozenset({"p", "div", "blockquote", "center", "poem", "pre", "ul", "ol", "dl"})

# Inline templates that carry words of the sentence; everything else is dropped. A spec is
# the positional parameters joined by a space; a tuple inside means "first non-empty of".
TemplateSpec = tuple[int | tuple[int, ...], ...] | Callable[[list[str]], str]
TEXT_TEMPLATES: dict[str, TemplateSpec] = {
    "nowrap": (1,), "nobr": (1,), "nobreak": (1,), "no wrap": (1,), "nowrap begin": (),
    "lang": (2,), "langx": (2,), "transl": ((3, 2),), "ill": (1,), "interlanguage link": (1,),
    "convert": (1, 2), "cvt": (1, 2), "val": (1,), "small": (1,), "smaller": (1,),
    "abbr": (1,), "sic": ((2, 1),), "sub": (1,), "sup": (1,), "keypress": (1,),
    # zh
    "link-en": (1,), "le": (1,), "tsl": ((3, 2),), "internal link helper": (1,),
    # ru
    "iw": ((2, 1),), "comment": (1,), "num": (1,), "число": (1,), "не переведено": ((2, 1),),
    # fr
    "unité": (1, 2), "nombre": (1, 2), "date": (1, 2, 3), "date-": (1, 2, 3), "lien": (1,),
    "s-": lambda p: f"{p[0]}e siècle" if p else "", "siècle": lambda p: f"{p[0]}e siècle" if p else "",
    "e": lambda p: "e", "er": lambda p: "er", "re": lambda p: "re", "1er": lambda p: "1er",
    "citation": (1,), "japonais": (1,), "langue": (2,), "formatnum": (1,),
    # es
    "siglo": lambda p: f"siglo {p[0]}" if p else "", "esd": (1,), "trad": (1,),
}
TEXT_TEMPLATES = {k.strip().lower(): v for k, v in TEXT_TEMPLATES.items()}
# Russian and English "lang-xx" templates show their first parameter.
LANG_TEMPLATE = re.compile(r"^(?:lang|langue)-[a-z-]+$")
# A fr "{{XIXe siècle}}" style template renders as its own name.
CENTURY_TEMPLATE = re.compile(r"^[ivxlc]+e (?:siècle|millénaire)$")

# A lower-case language code before a colon in an unpiped link is an interlanguage link.
# Sister-project prefixes of 2–3 letters are excluded (they render as text).
INTERLANG = re.compile(r"[a-z]{2,3}(?:-[a-z0-9]{2,8})*|simple")
NOT_LANGUAGE = frozenset({"mw", "voy", "doi", "rfc", "iso", "wmf"})

# Comments and references, cut with one linear regex before tokenizing (always dropped).
PREFILTER = re.compile(r"<!--.*?(?:-->|\Z)|<ref\b[^>]*/\s*>|<ref\b[^>]*>(?:(?!<ref\b).)*?</ref\s*>",
                        re.DOTALL | re.IGNORECASE)

# Headings are rendered as "\x01<level>title" lines so that tidy_text can drop empty sections.
HEADING = "\x01"
# A ";term" line is a pseudo-heading (level 7) unless a ":definition" follows on the line.
PSEUDO_HEADING_LEVEL = 7
DEFINITION = "\x03"
# Only top-level sections can be apparatus: a "Литература" under "Культура" is content.
BOILERPLATE_MAX_LEVEL = 2


# Every known localized name is hidden on every wiki: pages copy links between languages and
# no article title starts with "Fichier:" or "分类:".
HIDDEN_NAMESPACES = frozenset(name for table in (FILE_NAMESPACES, CATEGORY_NAMESPACES)
                               for names in table.values() for name in names)


@lru_cache(maxsize=None)
def boilerplate_titles(language: str) -> frozenset[str]:
    """Section titles dropped with their subsections on this wiki (English ones included)."""
    return frozenset(BOILERPLATE_SECTIONS.get(language, ()) + BOILERPLATE_SECTIONS["en"])
