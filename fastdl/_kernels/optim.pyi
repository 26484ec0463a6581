from collections.abc import Hashable, Mapping, MutableMapping

OPTIONS: dict[str, int]
RULES: dict[str, int]

def update(rule: str, keys: list[Hashable], start: int, params: Mapping[Hashable, object],
           grads: Mapping[Hashable, object], states: list[MutableMapping[Hashable, object] | None],
           hyper: dict[str, float], options: int = ..., float32: bool = ...) -> int: ...
