"""A scripted dialogue engine: valid questions and answers per language, bad ones on demand.

It reads which turn is asked from the request (``<task kind="…">`` in chat prompts, the
speaker label at the end of completion prompts) and the turn/attempt from the request id
(``<dialogue>:<turn>:<role>:<attempt>``), so a test can script exactly which generation goes
wrong and how. Script keys (``EngineConfig.engine_kwargs``):

- ``bad``: ``{"<turn>:<role>:<attempt>": kind}`` (``*`` matches any field); kinds below;
- ``calls_dir``: append each request id to ``<pid>.calls`` there (count calls across actors);
- ``fail_marker``: every question of a segment whose text holds this string is too short;
- ``language``: the job's language (default en); ``latency_s``: sleep per request; ``max_model_len``: context, with ``count_tokens`` = words.

Bad kinds: ``empty``, ``short``, ``leak``, ``nomark``, ``foreign``, ``echo``, ``length``,
``label`` (a role label and quotes that cleaning must strip: the message then passes),
``overflow`` (raises ``context_overflow``), ``error`` (raises a non-retryable error).
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

from ultralink.llm.types import ChatRequest, Completion, RequestError

QUESTIONS = {
    "en": [
        "Why did medieval farmers in northern England reuse stone from old Roman buildings?",
        "How did the arrival of railways change the daily rhythm of small market towns?",
        "What explains the way coastal fishing villages organised their seasonal work?",
        "Could the decline of traditional crafts be reversed by modern tourism, and how?",
        "Which factors made certain regional dishes spread across the whole country?",
        "In what ways do national heritage lists shape how people value old landscapes?",
    ],
    "zh": [
        "为什么古代的农民要根据节气来安排播种和收获的时间？",
        "大运河的开凿对沿岸城市的商业发展产生了怎样的影响？",
        "传统手工艺在现代社会中面临哪些困难，又该如何传承下去？",
        "南方和北方的饮食习惯为什么会有如此明显的差别？",
        "古代文人为什么喜欢在城市里修建私家园林来寄托情怀？",
        "世界遗产的称号会如何改变一个地方居民的日常生活？",
    ],
    "ru": [
        "Почему строительство железной дороги так сильно изменило жизнь сибирских городов?",
        "Как народные промыслы сохранились в деревнях после промышленной революции?",
        "Чем объясняется особое отношение жителей побережья к холодному озеру и его рыбе?",
        "Какие последствия для экономики региона имело появление новых торговых путей?",
        "Может ли современный туризм помочь сохранить старинные ремёсла и обычаи?",
        "Каким образом природные условия влияли на архитектуру деревянных домов на севере?",
    ],
    "fr": [
        "Pourquoi les fromagers normands ont-ils adopté des méthodes de fabrication si strictes?",
        "Comment la construction des canaux a-t-elle transformé le commerce des villes du sud?",
        "Quelles raisons expliquent la popularité durable des grandes courses cyclistes en France?",
        "Dans quelle mesure le tourisme moderne peut-il préserver les traditions des villages?",
        "En quoi les appellations d'origine protègent-elles les producteurs locaux aujourd'hui?",
        "Quel rôle les fêtes de village jouent-elles encore dans la vie sociale des campagnes?",
    ],
    "es": [
        "¿Por qué los peregrinos medievales recorrían caminos tan largos y peligrosos?",
        "¿Cómo influyó el comercio marítimo en la cocina tradicional de las costas?",
        "¿Qué factores explican que el flamenco se convirtiera en un símbolo cultural?",
        "¿En qué medida el turismo moderno ayuda a conservar las tradiciones de los pueblos?",
        "¿Cuál es la relación entre las fiestas populares y la identidad de cada región?",
        "¿De qué manera cambiaron las ciudades cuando llegaron los ferrocarriles?",
    ],
}

ANSWERS = {
    "en": [
        "Stone was scarce and expensive to move, so ready-cut blocks from abandoned buildings "
        "were the cheapest material at hand. Farmers saw the ruins as part of the landscape "
        "rather than as monuments, and reuse was simply practical.",
        "Railways brought timetables, daily newspapers and goods from distant cities. Markets "
        "that once met weekly could trade every day, and the rhythm of work followed the "
        "train rather than the seasons or the church bell.",
        "Fishing families shared boats, nets and labour because the sea was dangerous and the "
        "seasons were short. Cooperation spread the risk, and the calendar of work followed "
        "the migration of the fish along the coast.",
        "Tourism can bring money and attention to workshops, but it can also turn skills into "
        "souvenirs. Crafts survive best when young people can earn a living from them and "
        "when local buyers still use what is made.",
        "Dishes spread when workers moved to cities and took their food with them. Cheap "
        "ingredients, easy transport and later cookery books and television turned local "
        "recipes into national favourites over a few generations.",
        "Heritage lists give places prestige and funding, which encourages care and "
        "restoration. They can also freeze a landscape in one idealised moment and raise "
        "prices, so residents sometimes feel pushed aside by visitors.",
    ],
    "zh": [
        "节气反映太阳的运行，能准确对应寒暑变化。农民据此安排播种和收获，比按照月相来定的月份更加可靠，也更少出错。",
        "运河让南北货物往来便利，沿岸城市因此兴起了码头、仓库和商号。商人聚集，手工业随之发展，商业日益繁荣。",
        "手艺人收入低、学徒少是最大的难题。只有让年轻人能够靠手艺体面地谋生，这些技艺才能真正一代代传承下去。",
        "气候和物产决定了饮食习惯：南方温暖湿润，多产稻米；北方干燥寒冷，多种小麦，口味也随之各有不同。",
        "读书人做官多年以后，常常想过安静的日子。可是他们舍不得热闹的街市，所以就在家旁边修一座小园子，种花养鱼。",
        "遗产称号带来大量游客和保护资金，也会推高房价和物价。当地居民的生活节奏和邻里关系因此发生很大的改变。",
    ],
    "ru": [
        "Железная дорога связала далёкие города с рынками страны. Вокруг станций выросли "
        "склады и мастерские, а жители получили работу и доступ к новым товарам.",
        "Промыслы выжили благодаря семейной передаче навыков и спросу на недорогие вещи. "
        "Мастера приспосабливали узоры к вкусам покупателей и продавали изделия на ярмарках.",
        "Озеро кормило местных жителей веками, поэтому рыбу и воду здесь берегут. Обычаи "
        "рыбаков передавались из поколения в поколение и стали частью местной культуры.",
        "Новые торговые пути приносили доход купцам и казне, но разоряли старые города, "
        "которые оказывались в стороне от движения товаров и людей.",
        "Туризм может дать мастерам заработок и внимание, однако он превращает ремесло в "
        "сувенир. Важно, чтобы молодые люди видели в нём настоящее дело.",
        "Суровый климат требовал толстых брёвен, небольших окон и высоких крыш. Дома строили "
        "так, чтобы сохранить тепло долгой зимой и выдержать тяжесть снега.",
    ],
    "fr": [
        "Les fromagers ont fixé des règles précises pour garantir un goût constant et protéger "
        "leur réputation face aux imitations vendues dans les grandes villes.",
        "Les canaux ont réduit le coût du transport des marchandises. Les villes situées sur "
        "leur tracé ont attiré des entrepôts, des artisans et de nouveaux marchands.",
        "Ces courses traversent tout le pays et passent devant chez les gens gratuitement. "
        "Elles mêlent exploit sportif, paysages et fierté régionale chaque été.",
        "Le tourisme apporte des revenus et de la visibilité aux villages, mais il risque de "
        "transformer les traditions en spectacle pour les visiteurs de passage.",
        "Les appellations garantissent l'origine et la méthode de fabrication. Elles permettent "
        "aux producteurs de vendre plus cher un produit que l'on ne peut pas copier ailleurs.",
        "Les fêtes rassemblent les habitants de tous âges autour de repas et de musique. Elles "
        "entretiennent le sentiment d'appartenance dans des campagnes qui se vident.",
    ],
    "es": [
        "Los peregrinos buscaban el perdón de sus pecados y el prestigio de haber llegado a un "
        "santuario famoso. Los caminos estaban llenos de hospitales y monasterios que los acogían.",
        "El comercio marítimo trajo especias, arroz y nuevas técnicas de conservación. Las "
        "cocinas de la costa mezclaron productos locales con ingredientes llegados de lejos.",
        "El flamenco nació en comunidades humildes y luego llegó a los cafés cantantes y a los "
        "teatros. Con el tiempo se presentó al mundo como la imagen de todo un país.",
        "El turismo aporta dinero y atención a los pueblos, pero también puede convertir las "
        "tradiciones en un espectáculo pensado solo para los visitantes.",
        "Las fiestas reúnen a los vecinos alrededor de la música y la comida. Mantienen vivas "
        "las costumbres y refuerzan el sentimiento de pertenencia a un lugar.",
        "Los ferrocarriles acercaron los mercados y atrajeron a trabajadores del campo. Las "
        "ciudades crecieron alrededor de las estaciones y cambiaron su ritmo de vida.",
    ],
}

# references to the passage as a task input: leakage when the passage is hidden, meta talk
# when it is shown in the first message
LEAK = {"en": "based on the provided text", "zh": "根据所给文本", "ru": "согласно предоставленному тексту",
        "fr": "selon le texte fourni", "es": "según el texto proporcionado"}
LABEL = {"en": ("Question: ", "Answer: "), "zh": ("问题：", "回答："), "ru": ("Вопрос: ", "Ответ: "),
         "fr": ("Question : ", "Réponse : "), "es": ("Pregunta: ", "Respuesta: ")}

_TASK = re.compile(r'<task kind="(\w+)">')
_ID = re.compile(r":(\d+):(question|answer):(\d+)$")


def role_of(request: ChatRequest) -> str:
    if request.messages:
        found = _TASK.findall(request.messages[-1].content)
        return "answer" if found and found[-1] == "answer" else "question"
    tail = (request.prompt or "").rstrip()
    return "answer" if re.search(r"(Assistant|答|Ассистент|Asistente)\s*[:：]$", tail) else "question"


def good_text(lang: str, role: str, turn: int) -> str:
    pool = QUESTIONS[lang] if role == "question" else ANSWERS[lang]
    return pool[turn % len(pool)]


def bad_text(kind: str, lang: str, role: str, turn: int) -> tuple[str, str]:
    good = good_text(lang, role, turn)
    if kind == "empty":
        return "   ", "stop"
    if kind == "short":
        return good[:5], "stop"
    if kind == "leak":
        return (LEAK[lang] + ", " + good), "stop"
    if kind == "nomark":
        return good.rstrip("?？") + ".", "stop"
    if kind == "foreign":
        return good_text("fr" if lang == "en" else "en", role, turn + 1), "stop"
    if kind == "echo":
        return good_text(lang, role, turn - 1) if turn else "<document>" + good, "stop"
    if kind == "length":
        return good[: len(good) // 2], "length"
    if kind == "label":
        label = LABEL[lang][0 if role == "question" else 1]
        return f'{label}"{good}"', "stop"
    raise ValueError(kind)


class DialogueFake:
    """A ChatEngine for dialogue tests (picklable config, built per host)."""

    def __init__(self, config: Any = None, **script: Any) -> None:
        merged = dict(config.engine_kwargs) if config is not None else {}
        merged.update(script)
        self.script = merged
        self.model_name = config.model if config is not None else "fake"
        self.max_model_len = int(merged.get("max_model_len", 100_000))
        self.calls = 0
        self.requests: list[ChatRequest] = []

    def _bad_kind(self, turn: int, role: str, attempt: int) -> str | None:
        for key, kind in (self.script.get("bad") or {}).items():
            t, r, a = key.split(":")
            if (t in ("*", str(turn)) and r in ("*", role) and a in ("*", str(attempt))):
                return kind
        return None

    async def generate(self, request: ChatRequest) -> Completion:
        self.calls += 1
        self.requests.append(request)
        if self.script.get("calls_dir"):
            with open(Path(self.script["calls_dir"]) / f"{os.getpid()}.calls", "a") as f:
                f.write(request.request_id + "\n")
        if self.script.get("latency_s"):
            await asyncio.sleep(float(self.script["latency_s"]))
        prompt_tokens = self.count_tokens(request)
        if prompt_tokens + request.sampling.max_tokens > self.max_model_len:
            raise RequestError("context_overflow", "too long", retryable=False)
        m = _ID.search(request.request_id)
        turn, attempt = (int(m.group(1)), int(m.group(3))) if m else (0, 0)
        role = role_of(request)
        lang = self.script.get("language", "en")
        kind = self._bad_kind(turn, role, attempt)
        marker = self.script.get("fail_marker")  # segments whose text holds it never yield
        if marker and role == "question" and marker in self._text(request):
            kind = "short"
        if kind == "overflow":
            raise RequestError("context_overflow", "scripted", retryable=False)
        if kind == "error":
            raise RequestError("scripted", "scripted failure", retryable=False)
        text, finish = bad_text(kind, lang, role, turn) if kind else (good_text(lang, role, turn),
                                                                       "stop")
        return Completion(text=text, finish_reason=finish, prompt_tokens=prompt_tokens,
                          completion_tokens=max(1, len(text.split())), model=self.model_name)

    def count_tokens(self, request: ChatRequest) -> int:
        return len(self._text(request).split())

    @staticmethod
    def _text(request: ChatRequest) -> str:
        return request.prompt or "\n".join(m.content for m in request.messages or [])

    def shutdown(self) -> None:
        pass
