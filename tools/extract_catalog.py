"""Extract storesim's catalogue from the recordings of the real store.

Run once when the recordings change:
    python tools/extract_catalog.py tests/fidelity/recordings/storeapi \
        service/storesim/data/products.json
    python tools/extract_catalog.py tests/fidelity/recordings/storeapi-9.9.5 \
        service/storesim/data/products-9.9.json http://127.0.0.1:8091

The product JSON is kept exactly as the real store served it, with the site URL
replaced by a placeholder that storesim fills with its own base URL.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

RECORDED_SITE = "http://127.0.0.1:8181"
PLACEHOLDER = "{site}"


def main(recordings: Path, out: Path, site: str = RECORDED_SITE) -> None:
    parents = json.loads((recordings / "001-products-list.json").read_text())["response"]["json"]
    variations = json.loads((recordings / "005-product-variations.json").read_text())["response"][
        "json"
    ]
    products = parents + variations
    text = json.dumps(products, indent=1, ensure_ascii=False).replace(site, PLACEHOLDER)
    out.write_text(text + "\n")
    print(f"wrote {len(products)} products to {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
