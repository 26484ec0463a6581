from collections.abc import Callable, Hashable, Mapping

import numpy as np

THREAD_THRESHOLD: int
OPTIONS: dict[str, int]

Params = Mapping[Hashable, object]
Step = Callable[[Hashable], None]

def sgd_update(keys: list, params: Params, grads: Params, lr: float, step: Step,
               weight_decay: float = ..., options: int = ..., float32: bool = ...) -> None: ...
def momentum_update(keys: list, params: Params, grads: Params, v: Params,
                    lr: float, momentum: float, step: Step,
                    weight_decay: float = ..., options: int = ..., float32: bool = ...) -> None: ...
def nesterov_update(keys: list, params: Params, grads: Params, v: Params,
                    lr: float, momentum: float, step: Step,
                    weight_decay: float = ..., options: int = ..., float32: bool = ...) -> None: ...
def adagrad_update(keys: list, params: Params, grads: Params, h_state: Params,
                   lr: float, step: Step,
                   weight_decay: float = ..., options: int = ..., float32: bool = ...) -> None: ...
def rmsprop_update(keys: list, params: Params, grads: Params, h_state: Params,
                   lr: float, decay_rate: float, step: Step,
                   weight_decay: float = ..., options: int = ..., float32: bool = ...) -> None: ...
def adam_update(keys: list, params: Params, grads: Params, m: Params, v: Params,
                lr_t: float | np.float64, beta1: float, beta2: float, step: Step,
                lr: float = ..., weight_decay: float = ..., options: int = ...,
                v_max: Params | None = ..., float32: bool = ...) -> None: ...
def _set_thread_threshold(n: int) -> int: ...
