"""The labelled set of the quality gate: writes ``quality_labelled.jsonl`` beside this file.

Every text is hand-written the way a strong instruct model writes: fluent, on topic, and wrong
in the ways such models are wrong (leakage phrasing, preambles, stray scripts, loops,
near-duplicate follow-ups, answering instead of translating). Each bad case is a good dialogue
or translation with one message replaced, so a rejection can only come from that message.
Hard good cases use the words the checks look for in legitimate ways ("a text editor", "the
text of the Magna Carta", a name in its own script in brackets, code, formulas).

Records are ``ultralink validate`` input plus ``label`` (good/bad) and, for bad ones,
``reason`` (the rejection expected). Run ``python tests/data/quality_cases.py`` to rewrite the
JSONL after editing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "quality_labelled.jsonl"

# ------------------------------------------------------------------------------- dialogues
# Per language: a document, two good dialogues (q1, a1, q2, a2), hard good replacements
# (position, text), and bad replacements (position, reason, text). Position 0..3 = q1 a1 q2 a2.

D: dict[str, dict] = {}

D["en"] = {
    "document": "The Erie Canal, completed in 1825, linked the Hudson River to Lake Erie. It cut "
                "freight costs between Buffalo and New York City by about 95 percent and turned "
                "New York into the leading port of the United States.",
    "dialogues": [
        ("Why did a canal across upstate New York change the balance of trade between the "
         "Atlantic coast and the American interior so dramatically in the 1820s?",
         "Before the canal, moving a ton of grain from the Great Lakes to the coast meant weeks "
         "on rough wagon roads, and the cost often exceeded the value of the cargo. A continuous "
         "water route let a single horse pull a barge carrying many tons, so farmers in Ohio and "
         "Michigan could suddenly sell to eastern and European markets at a profit. Trade that "
         "had drifted south along the Mississippi was pulled east instead, and New York City "
         "became the natural outlet for the whole region.",
         "Could railways have achieved the same shift a decade later, or did the canal create "
         "advantages that the early railroads could not easily take away?",
         "Early railways were expensive to build, carried little per train and were often banned "
         "from competing with the canal for freight, so for a generation the waterway kept its "
         "lead in bulk goods. More lasting was what the canal set in motion: warehouses, banks "
         "and merchant houses gathered in New York, and that concentration of capital and "
         "expertise stayed even after railroads took over most traffic in the 1850s. The canal "
         "therefore mattered less as a technology than as the event that fixed where the "
         "country's commercial center would be."),
        ("How did the construction of long canals in the early nineteenth century change the "
         "lives of the workers who dug them and the towns that grew along their banks?",
         "Digging was done largely by hand, with shovels, picks and horse-drawn scrapers, and "
         "much of the labor came from recent immigrants, many of them Irish, who moved with the "
         "work from camp to camp. Wages were better than farm work but disease and accidents "
         "were common. Once the water flowed, small crossroads turned into busy towns with "
         "boatyards, inns and grain elevators, and places like Rochester and Syracuse grew from "
         "villages into manufacturing cities within a few decades.",
         "What happened to those canal towns when rail and later highways took the traffic away, "
         "and have any of them found a new role?",
         "Many lost their reason to exist as transport hubs and shrank, while those that had "
         "built up factories, universities or administrative functions adapted and kept "
         "growing. In recent decades several have turned the old towpaths into bicycle trails, "
         "restored locks as attractions and used the waterfront for housing and festivals. The "
         "canal has become a recreational corridor, which brings tourism but rarely replaces "
         "the industrial jobs that left."),
    ],
    "hard_good": [
        (1, "Engineers of the period had no formal training, so they learned on the job, "
            "sometimes copying techniques described in the text of older British surveying "
            "manuals. They improvised a cement that hardened under water and invented stump "
            "pullers, and the canal became a practical school for American civil engineering."),
        (1, "A useful comparison is the Grand Canal (大运河) in China, which for centuries moved "
            "grain from the south to the capital. Both projects show how a state can reshape "
            "its economic geography by choosing where goods can travel cheaply and where they "
            "cannot."),
        (1, "You can still estimate the savings with simple arithmetic: if wagon freight cost "
            "$100 per ton and canal freight about $5, the reduction is (100 - 5) / 100 = 95 "
            "percent. In code that is `saving = (wagon - canal) / wagon`, which makes the scale "
            "of the change easy to see."),
        (3, "In this context, the word canal town describes a place whose economy was built "
            "around the waterway. Writers who kept diaries in a simple text editor today would "
            "recognize the same rhythm of arrivals and departures that shaped those towns."),
        (2, "Why did Governor DeWitt Clinton push for the canal when so many politicians called "
            "it a foolish waste of public money?"),
        (0, "Why did the canal succeed financially, and what does its toll revenue tell us about "
            "public infrastructure?"),
        (3, "Historians still quote Clinton's argument that the canal would make New York the "
            "granary of the world. The passage of the Canal Law of 1817 shows how a bold vision "
            "can win a legislature when it is tied to concrete economic interests."),
        (1, "Article I of the U.S. Constitution says nothing explicit about internal "
            "improvements, so federal help was uncertain and New York paid for the canal "
            "itself. That decision later gave the state the full benefit of the tolls, which "
            "repaid the debt within about a decade."),
    ],
    "bad": [
        (1, "leakage", "According to the text, the canal cut freight costs by about 95 percent, "
                       "which made it far cheaper to ship grain from the Great Lakes to New York "
                       "and shifted trade away from the Mississippi."),
        (1, "leakage", "The passage mentions that freight costs fell by 95 percent. This meant "
                       "that farmers in the interior could finally sell their grain on the coast "
                       "at a profit, which transformed the regional economy."),
        (3, "leakage", "As described above, the canal fixed New York's role as the commercial "
                       "center. Later railways followed the same corridor, reinforcing a pattern "
                       "that the waterway had already established for decades."),
        (2, "leakage", "What does the document say about the effect of the canal on the port of "
                       "New York?"),
        (2, "leakage", "Why does the article describe the canal as turning New York into the "
                       "leading port?"),
        (1, "meta", "Sure! Here is a detailed answer to your question. The canal allowed a "
                    "single horse to pull a barge carrying many tons, which made shipping grain "
                    "to the coast far cheaper than wagon transport."),
        (3, "meta", "Railways eventually took most of the traffic, but New York kept its lead "
                    "because capital and expertise had already gathered there. I hope this "
                    "helps! Let me know if you have any other questions."),
        (1, "repetition", "The canal made transport much cheaper for farmers in the interior. "
                          "The canal made transport much cheaper for farmers in the interior. "
                          "The canal made transport much cheaper for farmers in the interior. "
                          "The canal made transport much cheaper for farmers in the interior. "
                          "The canal made transport much cheaper for farmers in the interior."),
        (2, "near_duplicate_question", "Why did a canal across upstate New York change the "
                                       "balance of trade between the Atlantic coast and the "
                                       "American interior so dramatically?"),
        (1, "mixed_script", "Before the canal, moving grain was extremely 昂贵 and slow, so "
                            "farmers in the interior could not compete on the coast. The water "
                            "route changed that and pulled trade toward New York."),
        (3, "mixed_language", "Railways were expensive at first and carried little freight, so "
                              "the canal kept its lead for a generation. Les chemins de fer ont "
                              "fini par remplacer le canal pour presque tout le trafic de "
                              "marchandises au milieu du siècle."),
        (2, "multiple_questions", "Could railways have replaced the canal? When did they "
                                  "overtake it? Who financed them? Why did the state allow "
                                  "them? What happened to the tolls?"),
        (2, "not_a_question", "Tell me more about how railways competed with the canal in the "
                              "decades after it opened."),
        (1, "too_short", "It made freight much cheaper."),
        (1, "wrong_language", "Avant le canal, transporter une tonne de céréales des Grands Lacs "
                              "vers la côte coûtait souvent plus que la valeur de la cargaison, "
                              "et le canal a tout changé."),
        (3, "echo", "Before the canal, moving a ton of grain from the Great Lakes to the coast "
                    "meant weeks on rough wagon roads, and the cost often exceeded the value of "
                    "the cargo. A continuous water route let a single horse pull a barge."),
        (1, "leakage", "Based on the provided text, the canal reduced costs between Buffalo "
                       "and New York City by roughly 95 percent, which is why the city became "
                       "the leading port of the country."),
        (3, "meta", "As an AI language model, I cannot know for sure, but historians generally "
                    "agree that the concentration of capital in New York outlasted the canal's "
                    "dominance in freight traffic."),
    ],
}

D["zh"] = {
    "document": "京杭大运河始建于春秋时期，隋朝大规模扩建，全长约1797公里，连接海河、黄河、淮河、"
                "长江和钱塘江五大水系，是古代南粮北运的交通命脉。",
    "dialogues": [
        ("为什么隋朝要不惜动用大量人力物力扩建大运河，这一决定对后来的王朝产生了怎样的影响？",
         "隋朝统一南北之后，政治中心在北方，而经济重心已经逐渐南移，粮食和赋税大量出自江淮地区。"
         "修建贯通南北的水道，可以把南方的粮食稳定地运往都城，也便于朝廷控制新统一的江南。"
         "这项工程虽然加重了百姓负担，成为隋朝迅速灭亡的原因之一，但唐宋元明清各代都继续依靠"
         "运河输送漕粮，它实际上为此后一千多年的大一统格局提供了物质基础。",
         "既然运河对国家如此重要，为什么到了清朝后期漕运还是逐渐衰落了呢？",
         "一方面，黄河多次改道和泥沙淤积让运河部分河段难以通航，维护费用越来越高；另一方面，"
         "十九世纪以后海运和铁路兴起，运输粮食的速度更快、成本更低。再加上太平天国战争切断了"
         "江南与北方的联系，朝廷不得不改走海路。到1901年清廷正式停止漕运，运河的国家运输功能"
         "就此结束，但沿岸城市的商业传统和文化影响一直延续到今天。"),
        ("运河沿岸的城市是怎样因为水运而兴起的，它们的繁荣又带来了哪些文化上的变化？",
         "漕船和商船在运河上往来不断，扬州、淮安、临清等地因为是转运枢纽，聚集了大量商人、"
         "船工和仓储设施，逐渐发展成繁华的商业城市。财富的集中带动了园林、戏曲和饮食的发展，"
         "例如扬州的盐商就大力资助戏班和文人，淮扬菜也在这种环境中形成了精致的风格。不同地区"
         "的人沿着运河流动，方言、习俗和信仰也随之交流融合。",
         "如今运河已经不再是主要的运输通道，这些城市应该如何利用运河遗产来发展自己？",
         "2014年大运河被列入世界遗产名录，这为沿岸城市提供了新的机遇。许多城市修复了古码头、"
         "船闸和历史街区，把运河两岸建成公园和步道，发展文化旅游。不过，遗产保护也需要避免"
         "过度商业化，应当让当地居民参与进来，保留真实的生活气息，而不是只打造千篇一律的仿古"
         "街道。"),
    ],
    "hard_good": [
        (1, "从经济角度看，可以用一个简单的比例来理解：如果陆路运粮的成本是水运的十倍，那么同样"
            "的预算通过运河可以运送十倍的粮食。这也是为什么历代王朝宁愿花大量资金疏浚河道。"),
        (1, "运河的英文名称是 Grand Canal，联合国教科文组织在评估时特别强调了它的工程技术价值，"
            "例如清口枢纽和南旺分水工程，体现了古代水利的高超水平。"),
        (3, "在中文中，“运河文化”一词常被用来概括这些城市共同的生活方式。日本文化学者也曾研究"
            "过大运河对东亚交流的影响，认为它促进了书籍和技术的传播。"),
        (2, "和欧洲的伊利运河相比，大运河在国家治理中的作用有什么不同？"),
        (0, "为什么说大运河是古代中国最重要的基础设施之一？"),
        (3, "一些城市还利用数字技术来展示运河历史，例如用 Python 编写程序 `plot(routes)` 绘制"
            "历代航线的变化图，让游客直观地了解运河的演变过程。"),
        (1, "建筑材料中大量使用的青砖和石灰，正是通过运河从产地运到北京的，紫禁城的许多砖石就是"
            "这样运来的，这说明运河不仅运粮，也支撑了都城的建设。"),
        (3, "研究者常常引用《漕运通志》等文献，并将原文与考古发现相互印证，从而更准确地还原漕运"
            "制度的运作方式。"),
    ],
    "bad": [
        (1, "leakage", "根据文本，隋朝扩建大运河是为了把南方的粮食运往北方，这一工程连接了五大水系，"
                       "对后来各个王朝都产生了深远的影响。"),
        (1, "leakage", "本文介绍了大运河的历史，它全长约1797公里，是古代南粮北运的交通命脉，"
                       "因此对国家的统一非常重要。"),
        (3, "leakage", "文中指出运河连接了五大水系，所以沿岸城市可以通过发展文化旅游来利用这份"
                       "遗产，同时也要注意保护好原有的历史风貌。"),
        (2, "leakage", "上文提到的五大水系之间是如何通过运河连接起来的？"),
        (2, "leakage", "材料中提到运河是南粮北运的命脉，这对北方的粮食安全意味着什么？"),
        (1, "meta", "好的，以下是我的回答：隋朝修建运河是为了把南方的粮食运到北方，同时加强对"
                    "江南地区的控制，这对后世影响很大。"),
        (3, "meta", "城市可以修复古码头和历史街区，发展文化旅游，同时让居民参与保护工作。希望"
                    "以上内容对你有所帮助！"),
        (1, "repetition", "运河对国家非常重要，因为它运输粮食。运河对国家非常重要，因为它运输粮食。"
                          "运河对国家非常重要，因为它运输粮食。运河对国家非常重要，因为它运输粮食。"),
        (2, "near_duplicate_question", "为什么隋朝要不惜动用大量人力物力扩建大运河，这对后来的"
                                       "王朝产生了怎样的影响？"),
        (1, "mixed_script", "隋朝修建运河是为了把南方的粮食运往北方，这项工程非常 важный，"
                            "为后来的统一奠定了基础，也方便朝廷控制江南地区。"),
        (3, "mixed_language", "城市可以发展文化旅游来利用运河遗产。Many cities have restored "
                              "their old docks and historic streets to attract visitors from "
                              "all over the world. 同时也需要注意保护。"),
        (2, "multiple_questions", "漕运为什么衰落？什么时候停止的？谁决定的？海运有什么优势？"
                                  "铁路又起了什么作用？"),
        (2, "not_a_question", "请详细介绍一下清朝后期漕运衰落的原因。"),
        (1, "too_short", "为了运粮。"),
        (1, "wrong_language", "The Sui dynasty expanded the canal to move grain from the south "
                              "to the capital in the north, which shaped later dynasties."),
        (3, "echo", "2014年大运河被列入世界遗产名录，这为沿岸城市提供了新的机遇。许多城市修复了"
                    "古码头、船闸和历史街区，把运河两岸建成公园和步道，发展文化旅游。"),
        (1, "leakage", "从材料来看，大运河连接了海河、黄河、淮河、长江和钱塘江，因此成为古代最"
                       "重要的运输通道，对国家经济影响巨大。"),
        (3, "meta", "作为一个AI助手，我认为运河城市应该在保护遗产的同时发展旅游，让居民也能从中"
                    "受益，这样才能实现可持续发展。"),
    ],
}

D["ru"] = {
    "document": "Транссибирская магистраль, построенная в 1891–1916 годах, соединила Москву с "
                "Владивостоком. Её длина составляет около 9300 километров, и она до сих пор "
                "остаётся самой длинной железной дорогой в мире.",
    "dialogues": [
        ("Почему Российская империя в конце XIX века решилась на строительство такой длинной и "
         "дорогой железной дороги через Сибирь?",
         "Главной причиной была необходимость прочнее связать Дальний Восток с центром страны. "
         "Без надёжного сообщения Приморье оставалось уязвимым, а доставка войск и грузов "
         "морем вокруг Азии занимала месяцы. Кроме того, правительство рассчитывало, что "
         "дорога ускорит заселение Сибири крестьянами из перенаселённых губерний и откроет "
         "новые рынки для торговли с Китаем и Кореей.",
         "Оправдались ли эти расчёты, или магистраль оказалась слишком дорогой для экономики "
         "того времени?",
         "В краткосрочной перспективе расходы были огромными, а пропускная способность "
         "однопутной дороги во время Русско-японской войны оказалась недостаточной. Однако в "
         "долгосрочном плане магистраль изменила Сибирь: вдоль неё выросли Новосибирск и "
         "другие города, миллионы переселенцев получили землю, а сибирское масло и зерно стали "
         "экспортироваться в Европу. Поэтому историки чаще оценивают её как дорогое, но "
         "стратегически оправданное вложение."),
        ("Как строительство железной дороги изменило повседневную жизнь сибирских городов и "
         "деревень?",
         "Раньше многие населённые пункты жили почти в изоляции, и товары доходили до них "
         "месяцами по трактам и рекам. С появлением поездов в лавках появились фабричные ткани, "
         "посуда и газеты, а местные крестьяне смогли продавать зерно и масло далеко за "
         "пределами своего уезда. Станции стали центрами притяжения: возле них открывались "
         "школы, больницы и мастерские, и деревни, оказавшиеся рядом с дорогой, быстро росли.",
         "Что происходило с теми поселениями, которые остались в стороне от магистрали?",
         "Многие из них постепенно теряли значение: торговые пути смещались к станциям, молодёжь "
         "уезжала в растущие города, и старые центры превращались в тихие провинциальные "
         "посёлки. Характерный пример — Томск, который обошли основной линией, из-за чего "
         "лидерство в регионе перешло к Новониколаевску. Впрочем, Томск сохранил роль "
         "университетского города, что показывает, как образование может частично заменить "
         "транспортное преимущество."),
    ],
    "hard_good": [
        (1, "Интересно сравнить её с Великим шёлковым путём (丝绸之路): обе дороги связывали "
            "Европу и Азию и меняли экономику целых регионов, хотя разделены почти двумя "
            "тысячелетиями и опирались на совершенно разные технологии."),
        (3, "В тексте Конституции Российской Федерации транспорт прямо не упоминается среди "
            "стратегических отраслей, но на практике государство всегда уделяло магистралям "
            "особое внимание, понимая их значение для единства страны."),
        (1, "Для оценки масштаба можно привести простой расчёт: при средней скорости 50 км/ч "
            "путь в 9300 км занимает около 186 часов, то есть почти восемь суток непрерывного "
            "движения, что и сегодня впечатляет путешественников."),
        (2, "Почему инженеры выбрали маршрут вдоль южной границы Сибири, а не более короткий "
            "северный путь?"),
        (0, "Какую роль сыграла Транссибирская магистраль в освоении Дальнего Востока?"),
        (3, "Сегодня часть маршрута популярна у туристов, которые описывают поездку в блогах, "
            "а некоторые даже ведут путевые заметки в простом текстовом редакторе прямо в "
            "вагоне, отмечая каждую станцию."),
        (1, "Статья 71 Конституции относит федеральный транспорт к ведению Российской "
            "Федерации, и это отражает давнюю традицию: ещё при строительстве магистрали все "
            "ключевые решения принимались в столице."),
        (3, "Современные исследователи используют данные GPS и программы на Python, например "
            "функцию `load_routes()`, чтобы восстановить, как менялся грузопоток по магистрали "
            "на протяжении XX века."),
    ],
    "bad": [
        (1, "leakage", "Согласно тексту, магистраль строилась с 1891 по 1916 год и соединила "
                       "Москву с Владивостоком, что было важно для обороны и заселения Сибири."),
        (1, "leakage", "В данном отрывке говорится, что длина дороги составляет около 9300 "
                       "километров, поэтому её строительство потребовало огромных средств и "
                       "усилий всей империи."),
        (3, "leakage", "Как указано выше, магистраль остаётся самой длинной в мире, и поэтому "
                       "поселения, оставшиеся в стороне, постепенно теряли своё экономическое "
                       "значение."),
        (2, "leakage", "Что в этой статье говорится о влиянии магистрали на Владивосток?"),
        (2, "leakage", "Почему текст упоминает, что дорога до сих пор самая длинная в мире?"),
        (1, "meta", "Конечно! Вот подробный ответ на ваш вопрос: империя строила дорогу, чтобы "
                    "связать Дальний Восток с центром страны и ускорить заселение Сибири."),
        (3, "meta", "Многие поселения теряли значение, а молодёжь уезжала в города. Надеюсь, это "
                    "поможет вам лучше понять историю Сибири!"),
        (1, "repetition", "Дорога была нужна для связи с Дальним Востоком. Дорога была нужна для "
                          "связи с Дальним Востоком. Дорога была нужна для связи с Дальним "
                          "Востоком. Дорога была нужна для связи с Дальним Востоком."),
        (2, "near_duplicate_question", "Почему Российская империя в конце XIX века решилась "
                                       "строить такую длинную и дорогую железную дорогу через "
                                       "Сибирь?"),
        (1, "mixed_script", "Главной причиной была необходимость связать Дальний Восток с "
                            "центром страны, это было очень 重要 для обороны и для торговли с "
                            "соседними странами."),
        (3, "mixed_language", "Многие посёлки теряли значение после строительства дороги. Many "
                              "small towns lost their markets because trade moved to the new "
                              "railway stations along the line. Это хорошо видно на примере "
                              "Томска."),
        (2, "multiple_questions", "Оправдались ли расчёты? Сколько стоила дорога? Кто её "
                                  "строил? Когда её электрифицировали? Что будет дальше?"),
        (2, "not_a_question", "Расскажите подробнее о том, как строилась дорога через Байкал."),
        (1, "too_short", "Чтобы связать страну."),
        (1, "wrong_language", "The empire built the railway to connect the Far East with the "
                              "center of the country and to speed up the settlement of "
                              "Siberia."),
        (3, "echo", "Многие из них постепенно теряли значение: торговые пути смещались к "
                    "станциям, молодёжь уезжала в растущие города, и старые центры "
                    "превращались в тихие провинциальные посёлки."),
        (1, "leakage", "Из приведённого текста следует, что дорога соединила Москву с "
                       "Владивостоком, а значит, главной целью строительства была связь "
                       "центра с тихоокеанским побережьем."),
        (3, "meta", "Отличный вопрос! Поселения в стороне от магистрали теряли торговлю, а "
                    "молодёжь уезжала в города, поэтому многие из них пришли в упадок."),
    ],
}

D["fr"] = {
    "document": "Le canal du Midi, achevé en 1681 sous la direction de Pierre-Paul Riquet, relie "
                "Toulouse à la Méditerranée. Long de 240 kilomètres, il est inscrit au patrimoine "
                "mondial de l'UNESCO depuis 1996.",
    "dialogues": [
        ("Pourquoi le pouvoir royal a-t-il soutenu au XVIIe siècle un projet aussi coûteux que "
         "le creusement d'un canal entre l'Atlantique et la Méditerranée ?",
         "Louis XIV et Colbert y voyaient un moyen d'éviter le long détour par le détroit de "
         "Gibraltar, où les navires français étaient exposés aux pirates et aux flottes "
         "espagnoles. Un passage intérieur devait aussi stimuler le commerce du blé et du vin du "
         "Languedoc et renforcer l'unité économique du royaume. Le projet servait enfin le "
         "prestige de la monarchie, qui aimait montrer sa capacité à dompter la nature par de "
         "grands ouvrages.",
         "Les espoirs commerciaux placés dans le canal se sont-ils réalisés, ou son rôle a-t-il "
         "surtout été régional ?",
         "Le canal n'a jamais remplacé la route maritime pour le grand commerce international, "
         "car les gros navires ne pouvaient pas l'emprunter. En revanche, il a profondément "
         "transformé l'économie régionale : le blé du Lauragais a trouvé de nouveaux débouchés, "
         "les ports de Sète et d'Agde se sont développés et de nombreux villages ont vécu du "
         "trafic des barques. Son succès a donc été réel, mais surtout à l'échelle du "
         "Languedoc plutôt qu'à celle de l'Europe."),
        ("Comment Pierre-Paul Riquet a-t-il résolu le problème de l'alimentation en eau du "
         "canal, qui avait fait échouer les projets précédents ?",
         "La difficulté venait du seuil de Naurouze, point le plus haut du tracé, qu'il fallait "
         "alimenter en permanence. Riquet, qui connaissait bien la Montagne Noire, eut l'idée de "
         "capter les rivières de ce massif et de les conduire par des rigoles jusqu'au seuil, en "
         "créant le grand réservoir de Saint-Ferréol. Ce système ingénieux garantissait un débit "
         "suffisant même en été et reste aujourd'hui considéré comme un chef-d'œuvre "
         "d'hydraulique.",
         "Cette réussite technique a-t-elle influencé la construction d'autres canaux en Europe "
         "au siècle suivant ?",
         "Oui, des ingénieurs venus d'Angleterre et d'autres pays ont étudié l'ouvrage, et "
         "plusieurs canaux britanniques de la révolution industrielle s'en sont inspirés, "
         "notamment pour la gestion de l'eau aux points de partage. L'idée qu'un réseau de voies "
         "navigables pouvait structurer une économie nationale a gagné toute l'Europe, avant "
         "que le chemin de fer ne prenne le relais au XIXe siècle."),
    ],
    "hard_good": [
        (1, "On peut comparer ce projet au Grand Canal (大运河) de Chine, qui acheminait le grain "
            "du sud vers la capitale : dans les deux cas, l'État a utilisé une voie d'eau pour "
            "affirmer son autorité et unifier son territoire."),
        (3, "Dans le texte de l'édit royal de 1666, le roi présente le canal comme une œuvre "
            "utile à tout le royaume, ce qui montre que la communication politique comptait "
            "autant que les calculs économiques."),
        (1, "Un calcul simple aide à mesurer le gain : si le détour par Gibraltar représente "
            "environ 3000 km et le canal 240 km, le trajet intérieur est plus de dix fois plus "
            "court, même en tenant compte des écluses."),
        (2, "Pourquoi Riquet a-t-il investi sa fortune personnelle dans un chantier dont il ne "
            "verrait jamais l'achèvement ?"),
        (0, "Quel rôle le canal du Midi a-t-il joué dans le développement du Languedoc ?"),
        (3, "Aujourd'hui, des plaisanciers racontent leur croisière sur des blogs, et certains "
            "tiennent un journal de bord dans un simple éditeur de texte, notant chaque écluse "
            "franchie."),
        (1, "L'article 1er de l'édit accordait à Riquet la propriété du canal et de ses "
            "revenus, un montage original qui associait capitaux privés et volonté royale."),
        (3, "Des chercheurs utilisent aujourd'hui des programmes en Python, par exemple "
            "`charger_ecluses()`, pour modéliser le débit de l'eau et comparer le fonctionnement "
            "actuel avec celui du XVIIe siècle."),
    ],
    "bad": [
        (1, "leakage", "Selon le texte, le canal a été achevé en 1681 sous la direction de "
                       "Riquet, ce qui montre l'importance que le pouvoir royal accordait à "
                       "cette liaison entre les deux mers."),
        (1, "leakage", "Le document indique que le canal mesure 240 kilomètres, ce qui explique "
                       "pourquoi sa construction a demandé autant d'efforts et de moyens "
                       "financiers au royaume."),
        (3, "leakage", "Comme mentionné ci-dessus, le canal est inscrit au patrimoine mondial, "
                       "et cette reconnaissance a encouragé d'autres pays à étudier son "
                       "système hydraulique."),
        (2, "leakage", "Que dit l'extrait sur l'inscription du canal au patrimoine mondial ?"),
        (2, "leakage", "Pourquoi le passage souligne-t-il que Riquet dirigeait les travaux ?"),
        (1, "meta", "Bien sûr ! Voici une réponse détaillée : le pouvoir royal voulait éviter "
                    "le détour par Gibraltar et stimuler le commerce du Languedoc grâce au "
                    "canal."),
        (3, "meta", "Des ingénieurs anglais ont étudié l'ouvrage et s'en sont inspirés. "
                    "J'espère que cela vous aide à mieux comprendre l'histoire des canaux !"),
        (1, "repetition", "Le canal évitait le détour par Gibraltar. Le canal évitait le détour "
                          "par Gibraltar. Le canal évitait le détour par Gibraltar. Le canal "
                          "évitait le détour par Gibraltar. Le canal évitait le détour par "
                          "Gibraltar."),
        (2, "near_duplicate_question", "Pourquoi le pouvoir royal a-t-il soutenu au XVIIe siècle "
                                       "un projet aussi coûteux que ce canal entre l'Atlantique "
                                       "et la Méditerranée ?"),
        (1, "mixed_script", "Le roi voulait éviter le détour par Gibraltar, ce qui était très "
                            "重要 pour la sécurité des navires et pour le commerce du blé du "
                            "Languedoc."),
        (3, "mixed_language", "Des ingénieurs étrangers ont étudié le canal. Many British canals "
                              "of the industrial revolution borrowed its ideas about water "
                              "management at the summit level. Le modèle s'est ensuite "
                              "diffusé."),
        (2, "multiple_questions", "Le canal a-t-il réussi ? Combien a-t-il coûté ? Qui l'a "
                                  "financé ? Quand a-t-il été rénové ? Est-il encore utilisé ?"),
        (2, "not_a_question", "Parlez-moi davantage du rôle des écluses dans le fonctionnement "
                              "du canal."),
        (1, "too_short", "Pour éviter Gibraltar."),
        (1, "wrong_language", "The king supported the canal to avoid the long detour through "
                              "Gibraltar and to boost trade in the Languedoc region."),
        (3, "echo", "Le canal n'a jamais remplacé la route maritime pour le grand commerce "
                    "international, car les gros navires ne pouvaient pas l'emprunter. En "
                    "revanche, il a profondément transformé l'économie régionale."),
        (1, "leakage", "D'après le document, Riquet a dirigé les travaux jusqu'en 1681, et "
                       "c'est grâce à sa connaissance de la Montagne Noire que le canal a pu "
                       "être alimenté."),
        (3, "meta", "En tant qu'IA, je ne peux pas l'affirmer avec certitude, mais les canaux "
                    "britanniques se sont largement inspirés de cet ouvrage pour la gestion de "
                    "l'eau."),
    ],
}

D["es"] = {
    "document": "El Camino de Santiago es una red de rutas de peregrinación que conduce a la "
                "tumba del apóstol Santiago en Santiago de Compostela. Fue declarado Patrimonio "
                "de la Humanidad en 1993 y cada año lo recorren cientos de miles de personas.",
    "dialogues": [
        ("¿Por qué las peregrinaciones a Santiago de Compostela alcanzaron tanta importancia en "
         "la Europa medieval?",
         "En una época en que la fe organizaba la vida cotidiana, visitar la tumba de un apóstol "
         "ofrecía la esperanza del perdón y de la salvación. Los reinos cristianos del norte "
         "peninsular apoyaron el culto porque reforzaba su identidad frente a al-Ándalus, y las "
         "órdenes monásticas construyeron hospitales y puentes que hacían el viaje posible. Así, "
         "la peregrinación se convirtió en un fenómeno religioso, político y económico a la vez.",
         "¿Qué efectos tuvo ese flujo constante de viajeros en las ciudades y pueblos situados a "
         "lo largo de las rutas?",
         "Los peregrinos necesitaban comida, alojamiento y atención médica, de modo que surgieron "
         "posadas, mercados y hospitales que dinamizaron la economía local. Muchos artesanos y "
         "comerciantes extranjeros se instalaron en ciudades como Burgos o León, y con ellos "
         "llegaron estilos artísticos como el románico, que se difundió a lo largo del camino. "
         "Además, el intercambio de ideas y costumbres convirtió la ruta en un canal de "
         "comunicación cultural entre la península y el resto de Europa."),
        ("¿Cómo ha cambiado el perfil de quienes recorren el Camino de Santiago desde la Edad "
         "Media hasta hoy?",
         "En la Edad Media la mayoría caminaba por motivos religiosos, a menudo para cumplir una "
         "promesa o pedir una curación. Hoy el perfil es mucho más diverso: hay creyentes, pero "
         "también personas que buscan un reto deportivo, un tiempo de reflexión personal o una "
         "experiencia cultural. La mejora de los albergues y la señalización ha hecho la ruta "
         "accesible a gente de todas las edades y procedencias.",
         "¿Puede ese éxito turístico poner en peligro el carácter original del Camino?",
         "Existe ese riesgo, sobre todo en los últimos tramos, donde la masificación en verano "
         "satura los albergues y transforma algunos pueblos en escaparates comerciales. Sin "
         "embargo, muchos peregrinos siguen valorando la sencillez, la hospitalidad y el "
         "encuentro con otras personas, que forman parte esencial de la experiencia. El reto "
         "está en gestionar el turismo de manera sostenible, repartiendo los flujos y "
         "protegiendo el patrimonio sin convertir la ruta en un simple producto."),
    ],
    "hard_good": [
        (1, "Se puede comparar con la peregrinación a Kumano Kodō (熊野古道) en Japón, otra ruta "
            "declarada Patrimonio de la Humanidad, que también combina una fuerte tradición "
            "religiosa con un paisaje que invita a la reflexión."),
        (3, "El artículo 46 de la Constitución española obliga a los poderes públicos a "
            "conservar el patrimonio histórico, y ese mandato es la base legal de muchas "
            "medidas de protección aplicadas al Camino."),
        (1, "Un cálculo sencillo muestra el esfuerzo: quien recorre 800 km a razón de 25 km "
            "diarios necesita unas 32 jornadas, más de un mes de marcha, lo que explica el "
            "valor simbólico que se atribuía al viaje."),
        (2, "¿Por qué la concha de vieira se convirtió en el símbolo más reconocido de los "
            "peregrinos?"),
        (0, "¿Qué papel desempeñaron los monasterios en la organización del Camino?"),
        (3, "Hoy muchos peregrinos escriben un diario de viaje en un procesador de textos o en "
            "el móvil, y algunos programadores incluso usan funciones como `contar_etapas()` "
            "para planificar su recorrido."),
        (1, "En el texto del Códice Calixtino, una guía del siglo XII, ya se describen las "
            "etapas y los peligros del viaje, lo que demuestra que la peregrinación estaba muy "
            "organizada desde época temprana."),
        (3, "Los estudios sobre turismo sostenible proponen limitar el número de plazas en los "
            "albergues más saturados y promover rutas alternativas como el Camino del Norte, "
            "menos concurridas pero igual de ricas en patrimonio."),
    ],
    "bad": [
        (1, "leakage", "Según el texto, el Camino fue declarado Patrimonio de la Humanidad en "
                       "1993, lo que demuestra su enorme importancia histórica y cultural para "
                       "toda Europa."),
        (1, "leakage", "El fragmento menciona que cada año lo recorren cientos de miles de "
                       "personas, lo que explica por qué la peregrinación sigue siendo tan "
                       "importante en la actualidad."),
        (3, "leakage", "Como se menciona arriba, el Camino es Patrimonio de la Humanidad, por "
                       "lo que el turismo masivo debe gestionarse con cuidado para no dañar su "
                       "carácter original."),
        (2, "leakage", "¿Qué dice el documento sobre la tumba del apóstol Santiago?"),
        (2, "leakage", "¿Por qué el pasaje destaca que lo recorren cientos de miles de "
                       "personas?"),
        (1, "meta", "¡Claro! Aquí tienes una respuesta detallada: las peregrinaciones eran "
                    "importantes porque ofrecían la esperanza del perdón y reforzaban la "
                    "identidad de los reinos cristianos."),
        (3, "meta", "La masificación es un riesgo real, pero el Camino conserva su esencia. "
                    "Espero que esto te ayude a entender mejor el tema."),
        (1, "repetition", "La peregrinación ofrecía la esperanza del perdón. La peregrinación "
                          "ofrecía la esperanza del perdón. La peregrinación ofrecía la "
                          "esperanza del perdón. La peregrinación ofrecía la esperanza del "
                          "perdón."),
        (2, "near_duplicate_question", "¿Por qué las peregrinaciones a Santiago de Compostela "
                                       "alcanzaron una importancia tan grande en la Europa "
                                       "medieval?"),
        (1, "mixed_script", "Visitar la tumba de un apóstol era muy 重要 para los creyentes "
                            "medievales, que buscaban el perdón y la salvación a través del "
                            "viaje."),
        (3, "mixed_language", "La masificación satura los albergues en verano. Many pilgrims "
                              "still value the simplicity and hospitality that have always "
                              "been part of the experience on the road. Por eso hay que "
                              "gestionarlo bien."),
        (2, "multiple_questions", "¿Cambió la economía? ¿Qué ciudades crecieron? ¿Quién "
                                  "construyó los hospitales? ¿Cuándo llegó el románico? ¿Qué "
                                  "queda hoy?"),
        (2, "not_a_question", "Cuéntame más sobre los hospitales de peregrinos en la Edad "
                              "Media."),
        (1, "too_short", "Por la fe."),
        (1, "wrong_language", "Pilgrimages mattered because visiting an apostle's tomb offered "
                              "hope of forgiveness and strengthened the Christian kingdoms of "
                              "the north."),
        (3, "echo", "Existe ese riesgo, sobre todo en los últimos tramos, donde la masificación "
                    "en verano satura los albergues y transforma algunos pueblos en escaparates "
                    "comerciales."),
        (1, "leakage", "De acuerdo con el texto, la ruta conduce a la tumba del apóstol, y por "
                       "eso se convirtió en uno de los destinos de peregrinación más importantes "
                       "de la cristiandad."),
        (3, "meta", "Como inteligencia artificial, no tengo opiniones propias, pero muchos "
                    "expertos consideran que el turismo debe gestionarse de forma sostenible en "
                    "el Camino."),
    ],
}

# ----------------------------------------------------------------------------- translations
# Per language: good (source, target) pairs incl. hard ones, and bad (reason, source, target).

EN_Q = "Why do leaves change color in the fall, and which pigments are responsible?"
EN_MATH = ("Tom has 3 apples and buys 5 more. How many apples does he have now?\n"
           "He has 3 + 5 = 8 apples.\n#### 8")
EN_CODE = ("Write a Python function that returns the square of a number.\n\n"
           "```python\ndef square(x):\n    return x * x\n```\n\nIt returns `x * x` for any "
           "number.")
EN_INDENT = ("Here is the loop I wrote:\n\n    for i in range(3):\n        print(i)\n\n"
             "Why does it stop at 2?")
EN_LATEX = "Simplify the fraction \\frac{6}{8} and explain each step of the reduction."
EN_ANSWER = ("Leaves change color because chlorophyll breaks down in autumn, revealing yellow "
             "carotenoids, while red anthocyanins are produced from sugars trapped in the leaf.")

T: dict[str, dict] = {}

T["zh"] = {
    "good": [
        (EN_Q, "为什么秋天树叶会变色？是哪些色素造成的？"),
        (EN_MATH, "汤姆有三个苹果，又买了五个。他现在有多少个苹果？\n他有 3 + 5 = 8 个苹果。\n#### 8"),
        (EN_CODE, "编写一个返回数字平方的 Python 函数。\n\n```python\ndef square(x):\n    return x * x\n```"
                  "\n\n对于任何数字，它都返回 `x * x`。"),
        (EN_INDENT, "这是我写的循环：\n\n    for i in range(3):\n        print(i)\n\n为什么它在 2 就停止了？"),
        (EN_LATEX, "化简分数 \\frac{6}{8}，并解释约分的每一步。"),
        (EN_ANSWER, "树叶变色是因为秋天叶绿素分解，露出了黄色的类胡萝卜素，而红色的花青素则由困在叶子里的"
                    "糖分生成。"),
    ],
    "bad": [
        ("preamble", EN_Q, "以下是翻译：为什么秋天树叶会变色？是哪些色素造成的？"),
        ("preamble", EN_ANSWER, "树叶变色是因为秋天叶绿素分解，露出了黄色的类胡萝卜素，而红色的花青素则由"
                                "糖分生成。\n（注：原文中的 anthocyanins 译为花青素。）"),
        ("answered", EN_Q, "树叶变色主要是因为叶绿素在秋天分解，黄色和橙色的类胡萝卜素显露出来，红色则来自"
                           "花青素。"),
        ("duplicated", EN_Q, "为什么秋天树叶会变色？是哪些色素造成的？为什么秋天树叶会变色？是哪些色素造成的？"),
        ("untranslated", EN_ANSWER, "Leaves change color because chlorophyll breaks down in autumn, "
                                    "revealing yellow carotenoids, while red anthocyanins are produced "
                                    "from sugars trapped in the leaf."),
        ("placeholders", EN_CODE, "编写一个返回数字平方的 Python 函数。\n\n```python\ndef square(x):\n"
                                  "    return x ** 2\n```\n\n对于任何数字，它都返回 `x * x`。"),
        ("placeholders", EN_INDENT, "这是我写的循环：\n\n    for i in range(4):\n        print(i)\n\n"
                                    "为什么它在 2 就停止了？"),
        ("placeholders", EN_LATEX, "化简分数 6/8，并解释约分的每一步。"),
        ("numbers", EN_MATH, "汤姆有四个苹果，又买了五个。他现在有多少个苹果？\n他有 3 + 5 = 8 个苹果。\n#### 8"),
        ("mixed_script", EN_ANSWER, "树叶变色是因为秋天叶绿素分解，露出了黄色的类胡萝卜素，而红色的 "
                                    "антоцианы 则由困在叶子里的糖分生成。"),
    ],
}

T["ru"] = {
    "good": [
        (EN_Q, "Почему осенью листья меняют цвет и какие пигменты за это отвечают?"),
        (EN_MATH, "У Тома три яблока, и он покупает ещё пять. Сколько яблок у него теперь?\n"
                  "У него 3 + 5 = 8 яблок.\n#### 8"),
        (EN_CODE, "Напишите функцию на Python, которая возвращает квадрат числа.\n\n```python\n"
                  "def square(x):\n    return x * x\n```\n\nОна возвращает `x * x` для любого числа."),
        (EN_INDENT, "Вот цикл, который я написал:\n\n    for i in range(3):\n        print(i)\n\n"
                    "Почему он останавливается на 2?"),
        (EN_LATEX, "Упростите дробь \\frac{6}{8} и объясните каждый шаг сокращения."),
        (EN_ANSWER, "Листья меняют цвет, потому что осенью хлорофилл разрушается и становятся видны "
                    "жёлтые каротиноиды, а красные антоцианы образуются из сахаров, оставшихся в "
                    "листе."),
    ],
    "bad": [
        ("preamble", EN_Q, "Вот перевод: Почему осенью листья меняют цвет и какие пигменты за это "
                           "отвечают?"),
        ("preamble", EN_ANSWER, "Листья меняют цвет, потому что осенью хлорофилл разрушается, а "
                                "красные антоцианы образуются из сахаров.\nПримечание переводчика: "
                                "термин anthocyanins переведён как «антоцианы»."),
        ("answered", EN_Q, "Листья меняют цвет, потому что хлорофилл разрушается, и становятся видны "
                           "жёлтые и оранжевые пигменты."),
        ("duplicated", EN_Q, "Почему осенью листья меняют цвет и какие пигменты за это отвечают? "
                             "Почему осенью листья меняют цвет и какие пигменты за это отвечают?"),
        ("untranslated", EN_MATH, "У Тома три яблока, и он покупает ещё пять. Сколько яблок у него "
                                  "теперь?\nHe has 3 + 5 = 8 apples.\n#### 8"),
        ("placeholders", EN_CODE, "Напишите функцию на Python, которая возвращает квадрат числа.\n\n"
                                  "```python\ndef kvadrat(x):\n    return x * x\n```\n\nОна возвращает "
                                  "`x * x` для любого числа."),
        ("placeholders", EN_INDENT, "Вот цикл, который я написал:\n\n    для i в range(3):\n"
                                    "        print(i)\n\nПочему он останавливается на 2?"),
        ("placeholders", EN_LATEX, "Упростите дробь \\dfrac{6}{8} и объясните каждый шаг сокращения."),
        ("numbers", EN_MATH, "У Тома четыре яблока, и он покупает ещё пять. Сколько яблок у него "
                             "теперь?\nУ него 3 + 5 = 8 яблок.\n#### 8"),
        ("mixed_script", EN_ANSWER, "Листья меняют цвет, потому что осенью хлорофилл разрушается и "
                                    "становятся видны жёлтые 类胡萝卜素, а красные антоцианы "
                                    "образуются из сахаров."),
    ],
}

T["fr"] = {
    "good": [
        (EN_Q, "Pourquoi les feuilles changent-elles de couleur en automne, et quels pigments en "
               "sont responsables ?"),
        (EN_MATH, "Tom a trois pommes et en achète cinq de plus. Combien de pommes a-t-il "
                  "maintenant ?\nIl a 3 + 5 = 8 pommes.\n#### 8"),
        (EN_CODE, "Écrivez une fonction Python qui renvoie le carré d'un nombre.\n\n```python\n"
                  "def square(x):\n    return x * x\n```\n\nElle renvoie `x * x` pour tout nombre."),
        (EN_INDENT, "Voici la boucle que j'ai écrite :\n\n    for i in range(3):\n        print(i)\n\n"
                    "Pourquoi s'arrête-t-elle à 2 ?"),
        (EN_LATEX, "Simplifiez la fraction \\frac{6}{8} et expliquez chaque étape de la réduction."),
        (EN_ANSWER, "Les feuilles changent de couleur parce que la chlorophylle se dégrade en "
                    "automne, révélant les caroténoïdes jaunes, tandis que les anthocyanes rouges "
                    "sont produites à partir des sucres piégés dans la feuille."),
    ],
    "bad": [
        ("preamble", EN_Q, "Voici la traduction : Pourquoi les feuilles changent-elles de couleur en "
                           "automne, et quels pigments en sont responsables ?"),
        ("preamble", EN_ANSWER, "Les feuilles changent de couleur parce que la chlorophylle se "
                                "dégrade en automne, tandis que les anthocyanes rouges sont "
                                "produites à partir des sucres.\nNote du traducteur : « fall » a "
                                "été rendu par « automne »."),
        ("answered", EN_Q, "Les feuilles changent de couleur car la chlorophylle se dégrade, ce qui "
                           "laisse apparaître les caroténoïdes jaunes et orangés."),
        ("duplicated", EN_Q, "Pourquoi les feuilles changent-elles de couleur en automne ? Pourquoi "
                             "les feuilles changent-elles de couleur en automne ?"),
        ("untranslated", EN_MATH, "Tom a trois pommes et en achète cinq de plus. Combien de pommes "
                                  "a-t-il maintenant ?\nHe has 3 + 5 = 8 apples.\n#### 8"),
        ("placeholders", EN_CODE, "Écrivez une fonction Python qui renvoie le carré d'un nombre.\n\n"
                                  "```python\ndef carre(x):\n    return x * x\n```\n\nElle renvoie "
                                  "`x * x` pour tout nombre."),
        ("placeholders", EN_INDENT, "Voici la boucle que j'ai écrite :\n\n    pour i dans range(3):\n"
                                    "        print(i)\n\nPourquoi s'arrête-t-elle à 2 ?"),
        ("placeholders", EN_LATEX, "Simplifiez la fraction 6/8 et expliquez chaque étape de la "
                                   "réduction."),
        ("numbers", EN_MATH, "Tom a quatre pommes et en achète cinq de plus. Combien de pommes "
                             "a-t-il maintenant ?\nIl a 3 + 5 = 8 pommes.\n#### 8"),
        ("mixed_script", EN_ANSWER, "Les feuilles changent de couleur parce que la chlorophylle se "
                                    "dégrade en automne, révélant les 类胡萝卜素 jaunes, tandis que "
                                    "les anthocyanes rouges sont produites à partir des sucres."),
    ],
}

T["es"] = {
    "good": [
        (EN_Q, "¿Por qué las hojas cambian de color en otoño y qué pigmentos son los "
               "responsables?"),
        (EN_MATH, "Tom tiene tres manzanas y compra cinco más. ¿Cuántas manzanas tiene ahora?\n"
                  "Tiene 3 + 5 = 8 manzanas.\n#### 8"),
        (EN_CODE, "Escribe una función de Python que devuelva el cuadrado de un número.\n\n"
                  "```python\ndef square(x):\n    return x * x\n```\n\nDevuelve `x * x` para "
                  "cualquier número."),
        (EN_INDENT, "Este es el bucle que escribí:\n\n    for i in range(3):\n        print(i)\n\n"
                    "¿Por qué se detiene en 2?"),
        (EN_LATEX, "Simplifica la fracción \\frac{6}{8} y explica cada paso de la reducción."),
        (EN_ANSWER, "Las hojas cambian de color porque la clorofila se descompone en otoño y deja "
                    "ver los carotenoides amarillos, mientras que las antocianinas rojas se "
                    "producen a partir de los azúcares atrapados en la hoja."),
    ],
    "bad": [
        ("preamble", EN_Q, "Aquí tienes la traducción: ¿Por qué las hojas cambian de color en "
                           "otoño y qué pigmentos son los responsables?"),
        ("preamble", EN_ANSWER, "Las hojas cambian de color porque la clorofila se descompone en "
                                "otoño, mientras que las antocianinas rojas se producen a partir "
                                "de los azúcares.\nNota del traductor: se ha traducido «fall» "
                                "como «otoño»."),
        ("answered", EN_Q, "Las hojas cambian de color porque la clorofila se descompone y quedan "
                           "visibles los pigmentos amarillos y anaranjados."),
        ("duplicated", EN_Q, "¿Por qué las hojas cambian de color en otoño? ¿Por qué las hojas "
                             "cambian de color en otoño?"),
        ("untranslated", EN_MATH, "Tom tiene tres manzanas y compra cinco más. ¿Cuántas manzanas "
                                  "tiene ahora?\nHe has 3 + 5 = 8 apples.\n#### 8"),
        ("placeholders", EN_CODE, "Escribe una función de Python que devuelva el cuadrado de un "
                                  "número.\n\n```python\ndef cuadrado(x):\n    return x * x\n```\n\n"
                                  "Devuelve `x * x` para cualquier número."),
        ("placeholders", EN_INDENT, "Este es el bucle que escribí:\n\n    para i en range(3):\n"
                                    "        print(i)\n\n¿Por qué se detiene en 2?"),
        ("placeholders", EN_LATEX, "Simplifica la fracción 6/8 y explica cada paso de la "
                                   "reducción."),
        ("numbers", EN_MATH, "Tom tiene cuatro manzanas y compra cinco más. ¿Cuántas manzanas "
                             "tiene ahora?\nTiene 3 + 5 = 8 manzanas.\n#### 8"),
        ("mixed_script", EN_ANSWER, "Las hojas cambian de color porque la clorofila se descompone "
                                    "en otoño y deja ver los 类胡萝卜素 amarillos, mientras que "
                                    "las antocianinas rojas se producen a partir de los azúcares."),
    ],
}


def _messages(turns: list[str]) -> list[dict[str, str]]:
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t}
            for i, t in enumerate(turns)]


def _overlap(a: str, b: str) -> int:
    return sum(1 for i in range(len(b) - 20) if b[i:i + 20] in a)


def _subset(source: str) -> str:
    return "code" if "```" in source or "    for" in source else (
        "math" if "####" in source or "\\frac" in source else "chat")


def cases() -> list[dict]:
    out: list[dict] = []
    for lang, d in D.items():
        base = d["dialogues"]
        for i, turns in enumerate(base):
            out.append({"id": f"{lang}_dialogue_good_{i}", "kind": "dialogue", "language": lang,
                        "document": d["document"], "messages": _messages(list(turns)),
                        "label": "good"})
        for i, (pos, text) in enumerate(d["hard_good"]):
            turns = list(base[i % 2])
            turns[pos] = text
            out.append({"id": f"{lang}_dialogue_hardgood_{i}", "kind": "dialogue",
                        "language": lang, "document": d["document"],
                        "messages": _messages(turns), "label": "good"})
        for i, (pos, reason, text) in enumerate(d["bad"]):
            turns = list(base[0])
            turns[pos] = text
            if reason == "echo":  # the model repeats an earlier answer of the dialogue
                k, m = max(((k, m) for k in range(2) for m in (1, 3)),
                           key=lambda km: _overlap(base[km[0]][km[1]], text))
                turns = [base[k][0], base[k][m], base[k][2], text]
            out.append({"id": f"{lang}_dialogue_bad_{i}_{reason}", "kind": "dialogue",
                        "language": lang, "document": d["document"],
                        "messages": _messages(turns), "label": "bad", "reason": reason})
    # the scripted dialogue engine's hand-written turns (tests/specific) as more good dialogues
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "specific"))
    from specific_fakes import ANSWERS, QUESTIONS

    for lang in D:
        for i in range(3):
            turns = [QUESTIONS[lang][2 * i], ANSWERS[lang][2 * i], QUESTIONS[lang][2 * i + 1],
                     ANSWERS[lang][2 * i + 1]]
            out.append({"id": f"{lang}_dialogue_fixture_{i}", "kind": "dialogue",
                        "language": lang, "document": "", "messages": _messages(turns),
                        "label": "good"})
    for lang, t in T.items():
        for i, (src, tgt) in enumerate(t["good"]):
            out.append({"id": f"{lang}_translation_good_{i}", "kind": "translation",
                        "language": lang, "subset": _subset(src),
                        "source": [{"role": "user", "content": src}],
                        "messages": [{"role": "user", "content": tgt}], "label": "good"})
        for i, (reason, src, tgt) in enumerate(t["bad"]):
            out.append({"id": f"{lang}_translation_bad_{i}_{reason}", "kind": "translation",
                        "language": lang, "subset": _subset(src),
                        "source": [{"role": "user", "content": src}],
                        "messages": [{"role": "user", "content": tgt}], "label": "bad",
                        "reason": reason})
    return out


if __name__ == "__main__":
    rows = cases()
    with open(OUT, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(rows)} cases ({sum(r['label'] == 'bad' for r in rows)} bad) -> {OUT}")
