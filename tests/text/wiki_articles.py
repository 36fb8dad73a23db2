"""Realistic articles in every registry language, shared by the renderer and the clean-step tests."""

EN_ARTICLE = """{{Short description|Capital city of France}}
{{Use dmy dates|date=May 2024}}
{{Infobox settlement
| name = Paris
| image_skyline = Paris montage.jpg
| population_total = 2102650
| area_km2 = 105.4
}}
__NOTOC__
'''Paris''' ({{IPA|fr|paʁi|lang}}) is the [[capital city|capital]] and most populous city of [[France]].<ref name="insee">{{cite web |url=https://www.insee.fr/ |title=Populations légales |publisher=INSEE}}</ref> With an estimated population of {{convert|2102650}} residents in January 2023<ref>{{cite news|title=Census}}</ref> in an area of more than {{convert|105|km2|sqmi}}, Paris is the fourth-most populous city in the [[European Union]].<!-- keep this figure updated -->

Since the 17th century, Paris has been one of the world's major centres of ''finance'', '''''diplomacy''''', commerce, culture, [[fashion]], and [[gastronomy]].<ref name=insee/>

[[File:Paris Night.jpg|thumb|left|upright=1.2|The [[Eiffel Tower]] seen from the [[Trocadéro]] at night]]
[[Image:Notre Dame.jpg|thumb|[[Notre-Dame de Paris|Notre-Dame]] before the 2019 fire]]

== History ==
=== Origins ===
The [[Parisii (Gaul)|Parisii]], a sub-tribe of the [[Celts|Celtic]] [[Senones]], inhabited the Paris area from around the middle of the 3rd century BC.<ref>{{harvnb|Lawrence|Gondrand|2010|p=25}}</ref> The Romans conquered the Paris Basin in 52 BC and began their settlement on Paris's [[Left Bank]].

=== Middle Ages ===
By the end of the 12th century, Paris had become the political, economic, religious, and cultural capital of France.<ref>{{cite book|last=Bayrou|year=1994}}</ref> See the [http://www.paris.fr official city site] for details, or http://example.org/raw.

{| class="wikitable sortable"
|+ Largest groups of foreign residents
! Country !! Population
|-
| {{flag|Portugal}} || 27,000
|-
| {{flag|Algeria}} || 26,000
|}

== Geography ==
Paris is located in northern central France, in a north-bending arc of the river [[Seine]]. Its main features are:
* the [[Île de la Cité]] and the [[Île Saint-Louis]];
* the hills of [[Montmartre]] and [[Belleville, Paris|Belleville]];
# a numbered point about the [[Bois de Boulogne]].

The area of a circle is <math>A = \\pi r^2</math>, which planners used for the [[Place de l'Étoile]].
<gallery>
File:Paris 01.jpg|Caption one
File:Paris 02.jpg|Caption two
</gallery>

== Economy ==
{{Main|Economy of Paris}}
{{Expand section|date=June 2024}}

== See also ==
* [[Outline of Paris]]
* [[List of museums in Paris]]

== References ==
{{Reflist|30em}}

== External links ==
* {{Official website|https://www.paris.fr/}}
* [https://en.parisinfo.com/ Paris Convention and Visitors Bureau]

{{Navboxes|list={{Paris}}}}
{{Authority control}}

[[Category:Paris| ]]
[[Category:Capitals in Europe]]
[[fr:Paris]]
[[de:Paris]]
[[zh-yue:巴黎]]
"""


FR_ARTICLE = """{{Voir homonymes|Lyon (homonymie)}}
{{Infobox Commune de France
 | nom = Lyon
 | région = [[Auvergne-Rhône-Alpes]]
}}
'''Lyon''' (prononcé {{MSAPI|ljɔ̃}}) est une [[Commune en France|commune]] française située au quart sud-est de la [[France]], au confluent du [[Rhône (fleuve)|Rhône]] et de la [[Saône]].<ref>{{Lien web|titre=Insee|url=https://insee.fr}}</ref> Au {{s-|XIX}}, la ville devient un centre de l'industrie de la soie.

[[Fichier:Lyon vue.jpg|vignette|Vue de [[Fourvière]] depuis les [[Pentes de la Croix-Rousse|Pentes]].]]

== Histoire ==
La ville est fondée le {{date-|9 octobre -43}} sous le nom de ''Lugdunum''<ref name="x"/>. Elle compte {{nombre|522250|habitants}} en 2021.

== Voir aussi ==
=== Articles connexes ===
* [[Liste des maires de Lyon]]

== Notes et références ==
{{Références}}

== Liens externes ==
* [https://www.lyon.fr Site officiel]

[[Catégorie:Lyon| ]]
[[en:Lyon]]
"""

ES_ARTICLE = """{{Ficha de localidad de España
|nombre = Sevilla
}}
'''Sevilla''' es un [[municipio de España|municipio]] y una ciudad de [[España]], capital de la [[provincia de Sevilla|provincia homónima]] y de la [[comunidad autónoma]] de [[Andalucía]].<ref>{{cita web|url=https://www.ine.es|título=INE}}</ref> En el {{siglo|XVI|d|s}} fue el puerto de las Indias.

[[Archivo:Giralda.jpg|miniaturadeimagen|La [[Giralda]] vista desde la [[Catedral de Sevilla|catedral]].]]
[[Imagen:Sevilla mapa.png|200px]]

== Historia ==
Los orígenes de la ciudad se remontan al [[Tartessos|período tartésico]].<!-- comentario -->

== Véase también ==
* [[Anexo:Monumentos de Sevilla]]

== Referencias ==
{{listaref}}

== Enlaces externos ==
* [https://www.sevilla.org/ Ayuntamiento de Sevilla]

[[Categoría:Sevilla| ]]
[[fr:Séville]]
"""

ZH_ARTICLE = """{{Infobox city
|name = 北京
}}
'''北京市'''，简称'''京'''，是[[中华人民共和国]]的[[首都]]，也是[[直辖市]]之一。<ref>{{cite web|title=北京概况|url=http://www.beijing.gov.cn}}</ref>全市面积{{convert|16410.54|km2}}。

[[文件:Beijing skyline.jpg|thumb|从[[景山]]眺望[[紫禁城]]]]
[[File:Tiananmen.jpg|thumb|天安门]]

== 历史 ==
北京有着三千余年的建城史，曾先后为[[辽朝|辽]]陪都、[[金朝|金]]中都、[[元朝|元]]大都。<ref name="hist"/>

== 参见 ==
* [[北京市行政区划]]

== 参考文献 ==
{{reflist}}

== 外部链接 ==
* [http://www.beijing.gov.cn 北京市人民政府]

[[分类:北京市| ]]
[[分類:中华人民共和国首都]]
[[en:Beijing]]
"""

RU_ARTICLE = """{{Карточка города
|Русское название = Казань
}}
'''Каза́нь''' ({{lang-tt|Казан}}) — город в [[Россия|России]], столица [[Татарстан|Республики Татарстан]].<ref>{{cite web|url=https://rosstat.gov.ru|title=Росстат}}</ref> Население — {{число|1318604}} человек.

[[Файл:Kazan Kremlin.jpg|мини|[[Казанский кремль]] ночью]]

== История ==
Город основан в XI веке.
; Культура
{{main|Культура Казани}}

== См. также ==
* [[Список улиц Казани]]

== Примечания ==
{{примечания}}

== Литература ==
* ''Иванов И.'' История Казани. — Казань, 2005.

== Ссылки ==
* [http://www.kzn.ru Официальный сайт]

[[Категория:Казань]]
[[en:Kazan]]
"""
