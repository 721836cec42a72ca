from kernel_ext._reload._shadows import Shadows


class Entry:
    def __init__(self, name: str) -> None:
        self.name = name


def test_removing_the_serving_entry_gives_back_the_one_it_replaced() -> None:
    a, b, c = Entry("a"), Entry("b"), Entry("c")
    shadows: Shadows[Entry] = Shadows()
    shadows.push(b, a)
    shadows.push(c, b)
    assert shadows.remove(c) == (b, True)
    assert shadows.remove(b) == (a, True)
    assert len(shadows) == 0


def test_an_obsolete_entry_in_the_middle_is_spliced_out() -> None:
    a, b, c = Entry("a"), Entry("b"), Entry("c")
    shadows: Shadows[Entry] = Shadows()
    shadows.push(b, a)
    shadows.push(c, b)
    assert shadows.remove(b) == (a, False)  # b was not serving
    assert shadows.remove(c) == (a, True)  # c now falls back to a


def test_an_entry_never_pushed_is_serving_with_nothing_beneath() -> None:
    assert Shadows().remove(Entry("x")) == (None, True)


def test_an_entry_rebuilt_in_place_takes_over_its_history() -> None:
    shadows: Shadows[object] = Shadows()
    a, b, c, b2 = object(), object(), object(), object()
    shadows.push(b, a)
    shadows.push(c, b)
    shadows.replace(b, b2)
    assert shadows.remove(c) == (b2, True)  # c goes: b's replacement serves again
    assert shadows.remove(b2) == (a, True)
