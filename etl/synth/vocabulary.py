"""The words the synthetic bank writes: names, places, occupations, handsets, apps, reasons,
businesses.

Small syllable lists: names are synthetic combinations, not real people.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


SURNAMES = _words(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo "
    "Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang "
    "Yu Du"
)
GIVEN = _words(
    "an bao bin bo chao chen cheng dan di dong fang fei feng gang hao hong hua hui jia jian "
    "jie jing jun kai lan lei li lin ling long mei min ming na ning peng ping qian qiang qing "
    "rong rui shan tao ting wei wen xia xin xiu yan yang yi ying yong yu yun zhen zhi"
)
_CITY_HEADS = _words("Hai Jin Nan Bei Dong Xi Lin Qing Shan Yun Long Feng")
_CITY_TAILS = _words("cheng zhou an ning yang du")
CITIES = tuple(h + t for h in _CITY_HEADS for t in _CITY_TAILS)[:36]
DISTRICTS = _words("Central East West North South New Harbour Hi-Tech Riverside Old-Town")
STREETS = _words(
    "Lianhua Heping Jiefang Renmin Zhongshan Xinhua Changjiang Huaihai Yanan Chaoyang Jianshe "
    "Minzhu Wenhua Binhe Guangming Xingfu Dongfeng Yingbin Qingnian Taoyuan"
)
STREET_SUFFIX = ("Road", "Street", "Lane", "Avenue")
OCCUPATIONS = (
    "teacher",
    "engineer",
    "nurse",
    "driver",
    "farmer",
    "clerk",
    "sales",
    "student",
    "retired",
    "self-employed",
    "civil servant",
    "doctor",
    "accountant",
    "factory worker",
    "chef",
    "programmer",
    "designer",
    "shop owner",
    "courier",
    "lawyer",
    "manager",
    "technician",
    "security guard",
    "homemaker",
    "unemployed",
)
OCC_STUDENT = OCCUPATIONS.index("student")
OCC_RETIRED = OCCUPATIONS.index("retired")
_BRANDS = ("Xenon", "Polar", "Lumi", "Orbit", "Kite", "Nimbus")
MODELS = tuple(f"{b} {m}" for b in _BRANDS for m in ("A10", "A20", "Pro 5", "Max 7", "Lite 3"))
APP_COUNT = 300
APP_SUFFIX = ("Pay", "Mall", "Chat", "Video", "Maps", "News", "Music", "Games", "Taxi", "Food")
ABNORMAL_APP_COUNT = 8
ABNORMAL_APP_CATEGORIES = ("fake_investment", "fake_loan", "remote_control", "gambling")
ABNORMAL_NUMBER_CATEGORIES = ("telecom_fraud", "spoofing", "phishing_sms", "harassment")
REJECTION_REASONS = (
    "INSUFFICIENT_DOCS",
    "LIMIT_EXCEEDED",
    "FACE_MISMATCH",
    "ID_CHIP_MISMATCH",
    "SUSPECTED_FRAUD",
    "ID_EXPIRED",
    "RISK_SCORE_TOO_HIGH",
)
BLACKLIST_REASONS = (
    "FRAUD_CONVICTION",
    "MONEY_MULE",
    "IDENTITY_THEFT",
    "COURT_ENFORCEMENT",
    "BAD_DEBT",
    "SANCTIONS",
)
CURRENCIES = ("CNY", "USD", "HKD", "EUR")
# The businesses of the generated history, by code: vouches.py and credit.py draw codes 0-2 with
# their own weights, and a telecom-fraud victim's stopped attempt is code 1. The risk policy may
# configure more businesses; tests/etl/test_synth.py checks these are among the shipped ones.
BUSINESSES = ("CROSS_BORDER_TRANSFER", "UNFAMILIAR_ACCOUNT_TRANSFER", "INSURANCE_PURCHASE")
