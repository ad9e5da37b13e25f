"""tools/wordcount.py: the words of the main path and of the marked depth."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import wordcount

PAGE = '''---
jupytext:
  formats: md:myst,ipynb
---

(sec-demo)=
# A Title of Four

Five words with `code` here {footcite:p}`he2016deep` and $x$.

```{code-cell} ipython3
print("no words of code count")
```

$$
y = x + f(x) \\quad \\text{math words do not count}
$$

````{admonition} What to remember
:class: tip remember
- Three words here.
```{code-cell} ipython3
x = 1
```
````

:::{admonition} Depth for researchers
:class: aside dropdown
Six words of depth inside it.
:::

(sec-demo-further)=
## Going Further

Four more depth words.

### A Sub Heading

Still depth here.

(sec-demo-refs)=
## References

Back on the main path.
'''


def test_main_path_and_depth_are_counted_apart():
    # main: title 4, sentence 5 + code 1 + math 1 (the parenthetical citation 0),
    # box title 3 + item 3, "References" 1 + 5
    # depth: aside title 3 + body 6, "Going Further" 2 + 4, "A Sub Heading" 3 + 3
    assert wordcount.count(PAGE) == {"main": 4 + 7 + 6 + 6, "depth": 9 + 6 + 6}


def test_every_page_of_the_table_of_contents_is_counted():
    pages = wordcount.pages("en")
    assert [p.stem for p in pages][:2] == ["index", "function-classes"]
    assert len(pages) == len(set(pages)) == len(list((ROOT / "book" / "en").glob("*.md")))
    assert all(wordcount.count(p.read_text())["main"] > 100 for p in pages)
