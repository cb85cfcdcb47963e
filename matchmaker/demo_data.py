"""Demo listings: real research abstracts (CSL, SciFact) as achievements, written demands.

Fields the corpora do not have (owner organisation, region, maturity) come from a seeded
generator, so every build produces the same listings with the same ids. data/README.md
says which fields are real and which are generated.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Iterator

import yaml

from matchmaker.listings import Listing
from nlu.lexicon import Lexicon

SEED = 20261123
MAX_ABSTRACT_CHARS = 1500

_CATEGORY_FIELDS = {
    "工学": "advanced_manufacturing", "理学": "new_materials", "医学": "biomedicine",
    "农学": "agriculture_food", "管理学": "management_social", "经济学": "management_social",
    "法学": "management_social", "教育学": "management_social", "文学": "management_social",
    "历史学": "management_social", "艺术学": "management_social", "哲学": "management_social",
    "军事学": "advanced_manufacturing",
}
_ZH_SUFFIX = {
    "biomedicine": ["医科大学", "生物医药研究院", "药物研究所"],
    "agriculture_food": ["农业大学", "农业科学院", "食品研究所"],
    "management_social": ["财经大学", "社会科学院", "师范大学"],
    "electronic_information": ["电子科技大学", "信息技术研究院", "计算技术研究所"],
}
_ZH_DEFAULT_SUFFIX = ["理工大学", "科技大学", "工业技术研究院", "材料研究所", "工程研究院"]
_EN_NAMES = ["Eastlake", "Riverside", "Northgate", "Harbourview", "Westfield", "Lakeshore",
             "Summit", "Greenvale", "Stonebridge", "Maplewood"]
_EN_SUFFIX = ["Institute of Biomedical Research", "Medical University", "Life Sciences Centre",
              "School of Medicine", "Institute of Cell Biology"]
_REGION_WEIGHTS = {"jiangsu": 14, "zhejiang": 10, "shanghai": 10, "anhui": 6, "beijing": 10,
                   "guangdong": 9, "shandong": 5, "hubei": 5, "sichuan": 5, "shaanxi": 4,
                   "hunan": 3, "fujian": 3, "tianjin": 3, "liaoning": 3, "henan": 3,
                   "chongqing": 2, "heilongjiang": 2}
_TRL_WEIGHTS = {2: 8, 3: 22, 4: 24, 5: 17, 6: 13, 7: 9, 8: 5, 9: 2}


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()), k=1)[0]


def _zh_owner(rng: random.Random, region: str, field: str, lexicon: Lexicon) -> tuple[str, str]:
    suffix = rng.choice(_ZH_SUFFIX.get(field, _ZH_DEFAULT_SUFFIX))
    owner_type = "university" if "大学" in suffix else "institute"
    return f"{lexicon.region_name(region, 'zh')}{suffix}（示例）", owner_type


def _en_owner(rng: random.Random) -> tuple[str, str]:
    suffix = rng.choice(_EN_SUFFIX)
    owner_type = "university" if "University" in suffix or "School" in suffix else "institute"
    return f"{rng.choice(_EN_NAMES)} {suffix} (demo)", owner_type


def _slug(name: str) -> str:
    return "org:" + "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def csl_achievements(path: Path, lexicon: Lexicon, rng: random.Random) -> Iterator[Listing]:
    """Chinese achievements from the CSL corpus (title, abstract, discipline are real)."""
    for record in _jsonl(path):
        title, text = str(record["title"]).strip(), str(record["text"]).strip()[:MAX_ABSTRACT_CHARS]
        keywords = "，".join(record.get("keywords", []))
        field = (lexicon.classify_field(f"{title} {keywords}")
                 or _CATEGORY_FIELDS.get(str(record.get("category")), "advanced_manufacturing"))
        region = _pick(rng, _REGION_WEIGHTS)
        owner, owner_type = _zh_owner(rng, region, field, lexicon)
        yield Listing(id=0, kind="achievement", title=title[:120], text=text, owner_id=_slug(owner),
                      owner_name=owner, owner_type=owner_type, listing_type="paper", region=region,
                      field=field, maturity=_pick(rng, _TRL_WEIGHTS), language="zh",
                      source=f"csl:{record['_id']}", created_at=0.0)


def scifact_achievements(path: Path, lexicon: Lexicon, rng: random.Random) -> Iterator[Listing]:
    """English achievements from the SciFact corpus (title and abstract are real)."""
    for record in _jsonl(path):
        title, text = str(record["title"]).strip(), str(record["text"]).strip()[:MAX_ABSTRACT_CHARS]
        if not title or not text:
            continue
        field = lexicon.classify_field(title) or "biomedicine"
        region = _pick(rng, _REGION_WEIGHTS)
        owner, owner_type = _en_owner(rng)
        yield Listing(id=0, kind="achievement", title=title[:120], text=text, owner_id=_slug(owner),
                      owner_name=owner, owner_type=owner_type, listing_type="paper", region=region,
                      field=field, maturity=_pick(rng, _TRL_WEIGHTS), language="en",
                      source=f"scifact:{record['_id']}", created_at=0.0)


def written_demands(path: Path) -> Iterator[Listing]:
    """The illustrative enterprise demands of data/demo/demands.yml."""
    with path.open(encoding="utf-8") as handle:
        demands = yaml.safe_load(handle)["demands"]
    for item in demands:
        yield Listing(id=0, kind="demand", title=item["title"], text=item["text"],
                      owner_id=_slug(item["owner_name"]), owner_name=item["owner_name"],
                      owner_type=item.get("owner_type", "enterprise"), listing_type="technical problem",
                      region=item["region"], field=item["field"], maturity=int(item.get("min_maturity") or 1),
                      language=item["language"], budget=item.get("budget"),
                      deadline_days=item.get("deadline_days"), source=f"demo-demand:{item['key']}",
                      created_at=0.0)


def demo_funding(path: Path) -> Iterator[Listing]:
    """The illustrative funding offers of data/demo/funding.yml (investors, programmes, bank loans)."""
    with path.open(encoding="utf-8") as handle:
        offers = yaml.safe_load(handle)["offers"]
    for item in offers:
        yield Listing(id=0, kind="funding", title=item["title"], text=item["text"],
                      owner_id=_slug(item["owner_name"]), owner_name=item["owner_name"],
                      owner_type=item["owner_type"], listing_type="funding offer", region=item["region"],
                      field=item["field"], maturity=1, language=item["language"],
                      source=f"demo-funding:{item['key']}", created_at=0.0, amount_min=int(item["amount_min"]),
                      amount_max=int(item["amount_max"]), stage=item["stage"])


def demo_listings(datasets_dir: Path, demands_path: Path, lexicon: Lexicon,
                  limit_per_corpus: int | None = None) -> Iterator[Listing]:
    """All demo listings in a fixed order: demands, then CSL, then SciFact."""
    rng = random.Random(SEED)
    yield from written_demands(demands_path)
    for corpus in (csl_achievements(datasets_dir / "csl" / "corpus.jsonl", lexicon, rng),
                   scifact_achievements(datasets_dir / "scifact" / "corpus.jsonl", lexicon, rng)):
        for count, listing in enumerate(corpus):
            if limit_per_corpus is not None and count >= limit_per_corpus:
                break
            yield listing
