"""The service domains of the answer bank and the aspects an entry can answer.

One source of truth: the bank schema, the importers, the file layout of
``corpus/bank`` and the evaluation all read these tables.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    name: str  # the Chinese name used in entries and on screens
    slug: str  # file name in corpus/bank and id prefix
    department: str  # the usual responsible unit (an entry may name another)


DOMAINS: tuple[Domain, ...] = (
    Domain("医疗保障", "yibao", "市医疗保障局"),
    Domain("社会保险", "shebao", "市人力资源和社会保障局"),
    Domain("住房公积金", "gongjijin", "市住房公积金管理中心"),
    Domain("不动产登记", "budongchan", "市不动产登记中心"),
    Domain("税务", "shuiwu", "市税务局"),
    Domain("户籍与身份证", "huji", "市公安局户政管理支队"),
    Domain("交通管理", "jiaoguan", "市公安局交通警察支队车辆管理所"),
    Domain("出入境", "churujing", "市公安局出入境管理支队"),
    Domain("市场主体登记", "shichang", "市市场监督管理局"),
    Domain("就业创业与人才", "jiuye", "市人力资源和社会保障局"),
    Domain("民政与社会救助", "minzheng", "市民政局"),
    Domain("教育入学", "jiaoyu", "市教育局"),
    Domain("卫生健康与生育", "weijian", "市卫生健康委员会"),
    Domain("住房与城乡建设", "zhujian", "市住房和城乡建设局"),
    Domain("法律服务与公证", "falv", "市司法局"),
    Domain("政务服务综合", "zonghe", "市政务服务中心"),
)

DOMAIN_BY_NAME: dict[str, Domain] = {d.name: d for d in DOMAINS}
DOMAIN_BY_SLUG: dict[str, Domain] = {d.slug: d for d in DOMAINS}

# The aspects of a service item (事项) that an entry answers. Kept small so
# that staff can filter by it and the guide importer can target it.
ASPECTS: tuple[str, ...] = (
    "办理条件",  # who qualifies
    "所需材料",  # what to bring
    "办理流程",  # steps
    "办理时限",  # how long it takes
    "收费标准",  # fees
    "办理地点",  # where
    "线上办理",  # which app / online channel
    "政策标准",  # amounts, ratios, rules
    "常见问题",  # anything else viewers ask about the item
)

COMPLEXITIES: tuple[str, ...] = ("ordinary", "complex")
