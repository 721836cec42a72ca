from typing import Annotated, Optional, Union

from fastapi import Body

from kernel_ext._reload._types import mentions, substitute


class Old: ...


class New: ...


MAP = {id(Old): New}


def test_substitutes_inside_generics_unions_and_annotated() -> None:
    assert substitute(Old, MAP) is New
    assert substitute(list[Old], MAP) == list[New]
    assert substitute(dict[str, list[Old]], MAP) == dict[str, list[New]]
    assert substitute(Old | None, MAP) == New | None
    assert substitute(Optional[Old], MAP) == Optional[New]  # noqa: UP045
    assert substitute(Union[Old, int], MAP) == Union[New, int]  # noqa: UP007
    marker = Body(embed=True)
    swapped = substitute(Annotated[Old, marker], MAP)
    assert swapped.__origin__ is New and swapped.__metadata__ == (marker,)


def test_leaves_unrelated_annotations_alone() -> None:
    annotation = list[int]
    assert substitute(annotation, MAP) is annotation
    assert substitute(int, MAP) is int


def test_mentions_finds_nested_classes() -> None:
    assert mentions(dict[str, list[Old | None]], {id(Old)})
    assert not mentions(list[New], {id(Old)})


def test_substitutes_dependencies_in_annotated_and_markers() -> None:
    from fastapi import Depends

    def old() -> None: ...

    def new() -> None: ...

    mapping = {id(old): new}
    annotated = substitute(Annotated[str, Depends(old)], mapping)
    assert annotated.__metadata__[0].dependency is new
    assert substitute(Depends(old), mapping).dependency is new
    assert mentions(Annotated[str, Depends(old)], {id(old)})
    assert not mentions(Annotated[str, Depends(new)], {id(old)})
    unrelated = Depends(new)
    assert substitute(unrelated, mapping) is unrelated
