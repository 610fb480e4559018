"""Closed word lists the question writer needs beyond what the parser tags: which nouns name people, which nouns
are categories a "which ..." question can use, currencies and measures. General English, not corpus-specific:
anything missing only makes a question say "What" instead of "Who" or "Which river"."""

from __future__ import annotations

# Nouns whose referent is a person (a subject described as one of these is asked with "Who").
PERSON_NOUNS = frozenset(
    """
actor actress architect artist astronaut athlete author bassist bishop boxer brother businessman businesswoman
captain cardinal cartographer ceo chairman chairwoman chancellor chef chemist child coach colonel comedian commander
composer conductor cricketer critic cyclist dancer daughter designer diplomat director drummer economist editor
emperor empress engineer entrepreneur explorer farmer father footballer founder general goalkeeper golfer governor
guitarist historian husband inventor journalist judge keyboardist king knight lawyer leader librarian linguist
lyricist manager mathematician mayor member merchant midfielder minister missionary monarch monk mother musician
nephew niece novelist nun officer painter philosopher photographer physician physicist pianist pilot player poet
politician pope president priest prince princess producer professor queen rapper rector researcher ruler sailor
saint scholar scientist screenwriter sculptor senator singer sister soldier son songwriter sportsman statesman
student surgeon teacher tenor theologian translator trainer uncle aunt violinist wife winner woman man writer
defender forward striker jockey swimmer skier wrestler runner sprinter archbishop abbot duke duchess count countess
baron lord lady heir grandson granddaughter grandfather grandmother cousin partner spouse fiance fiancee
""".split()
)

# Head nouns that make a good "Which <noun> ..." question ("Panglao Island" -> "which island").
CATEGORY_NOUNS = frozenset(
    """
airport album award band bank battle bay beach bridge building canal castle cathedral cave championship channel
church city club college company competition constituency continent country county cup dam department desert
district dynasty election empire estate festival film forest fort game garden group harbour harbor highway hospital
hotel island journal kingdom lake language league library lighthouse magazine market monastery mosque mountain
municipality museum network newspaper novel opera orchestra organisation organization palace park parish party
peninsula play port prize program programme project province railway region republic reservoir river road school
sea series ship show song stadium state station strait street studio system team temple theatre theater tournament
tower town treaty tribe university valley village war ward website
address command file locale option setting package licence license version
""".split()
)

CURRENCY_NOUNS = frozenset(
    """
dollar dollars euro euros pound pounds yen franc francs mark marks crown crowns krona kronor krone kroner rupee rupees
peso pesos ruble rubles rouble roubles yuan won lira lire shilling shillings guilder guilders cent cents
""".split()
)

# "120 metres tall" -> "How tall ...?"
MEASURE_ADJECTIVES = frozenset("tall high long wide deep old heavy thick far large big".split())

# Verbs whose passive reads wrongly or whose subject/object are not a fact to ask in the other voice.
NO_PASSIVE_VERBS = frozenset(
    """
be have marry meet include contain lack own become remain seem appear get resemble comprise consist cost weigh
measure equal suit fit mean involve feature star
""".split()
)

# A relation that holds both ways: "X married Y" is also "Y married X".
SYMMETRIC_VERBS = frozenset("marry meet divorce wed partner".split())

# Subjects too vague to stand alone in a question.
VAGUE_HEADS = frozenset(
    """
it they them this that these those he she we you i one ones some many most all both each either neither
couple pair others other anyone someone something everything nothing thing things people part rest
""".split()
)

# Preposition phrases asked as "<prep> what ...?" when the object is no entity (others are too vague to ask).
CONTENT_PREPS = frozenset("for with about against from into as over under after".split())
PLACE_PREPS = frozenset("in at on near inside within outside".split())
