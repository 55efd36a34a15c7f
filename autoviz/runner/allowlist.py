"""What a program may touch: torch functions, tensor methods and attributes, builtins.

Each callable carries a cost category, used to check resources *before* the call runs:

- ``same``: output no bigger than the largest input, work linear in it (unary ops,
  reductions, views, casts). Inputs are already within the caps, so nothing to check.
- ``broadcast``: elementwise over broadcast inputs; the output size is
  ``torch.broadcast_shapes`` of the tensor arguments.
- ``shaped``: the size of the result is worked out from the arguments' shapes by a rule
  per function (:func:`autoviz.runner.costs.result_numel`), never by running it.
- ``matmul``: like ``shaped``, and the FLOPs (output size x inner dimension; a
  convolution's or a pool's window) are checked too.
- ``create``: a factory (``zeros``, ``arange``…), sized from its arguments.
- ``random``: a factory that draws random numbers; gets the program's own generator.

Every category is also checked in bytes (elements x the result's element size).
"""

from __future__ import annotations

SAME = "same"
BROADCAST = "broadcast"
SHAPED = "shaped"
MATMUL = "matmul"
CREATE = "create"
RANDOM = "random"


def _cats(**groups: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for cat, names in groups.items():
        for name in names.split():
            table[name] = cat
    return table


_UNARY = """
    abs neg negative exp exp2 expm1 log log2 log10 log1p sin cos tan asin acos atan sinh cosh
    tanh asinh acosh atanh sigmoid relu sqrt rsqrt square sign sgn floor ceil round trunc frac
    reciprocal erf erfc erfinv logit nan_to_num isnan isinf isfinite signbit
    sum mean prod std var norm logsumexp amax amin argmax argmin all any count_nonzero
    max min median mode sort argsort topk kthvalue cumsum cumprod cummax cummin
    softmax log_softmax
    t transpose permute reshape view view_as reshape_as flatten unflatten squeeze unsqueeze
    flip narrow select movedim swapaxes diagonal tril triu clone detach
    unbind split chunk
"""

_BINARY = """
    add sub subtract mul multiply div divide true_divide floor_divide remainder fmod pow
    maximum minimum fmax fmin atan2 hypot clamp clip where lerp
    eq ne lt le gt ge equal allclose isclose logical_and logical_or logical_xor logical_not
    masked_fill
"""

TORCH_FUNCTIONS: dict[str, str] = {
    **_cats(same=_UNARY, broadcast=_BINARY),
    **_cats(
        shaped="cat concat concatenate stack hstack vstack outer gather index_select "
        "tile diag masked_select nonzero repeat_interleave",
        matmul="matmul mm bmm mv dot inner einsum cdist addmm",
        create="tensor as_tensor Tensor zeros ones empty full arange linspace logspace eye "
        "zeros_like ones_like empty_like full_like",
        random="randn rand randint randperm normal bernoulli randn_like rand_like randint_like",
    ),
}
TORCH_FUNCTIONS["tensor"] = CREATE
# calls that draw from torch's global generator (the interpreter lends it the program's)
GLOBAL_RANDOM = frozenset({"F.dropout"})

# torch.nn.functional
F_FUNCTIONS: dict[str, str] = _cats(
    same="relu relu6 leaky_relu elu selu celu gelu silu mish softplus softsign hardtanh "
    "sigmoid tanh hardsigmoid hardswish logsigmoid tanhshrink softmax log_softmax softmin "
    "normalize dropout layer_norm",
    broadcast="binary_cross_entropy_with_logits binary_cross_entropy mse_loss l1_loss "
    "smooth_l1_loss huber_loss kl_div cosine_similarity",
    shaped="cross_entropy nll_loss pad one_hot embedding",
    # sized, and their FLOPs checked: a convolution's dot products, a pool's windows
    matmul="linear conv1d conv2d max_pool1d max_pool2d avg_pool1d avg_pool2d",
)

TENSOR_METHODS: dict[str, str] = {
    **_cats(same=_UNARY, broadcast=_BINARY),
    **_cats(
        same="relu_ sigmoid_ tanh_ exp_ log_ neg_ abs_ sqrt_ zero_ clamp_ clamp_min clamp_max "
        "float double half long int bool to type_as contiguous requires_grad_ retain_grad "
        "item tolist numel dim size nelement element_size is_contiguous fill_ backward "
        "sum_to_size detach_ cpu register_hook",
        broadcast="add_ sub_ mul_ div_ pow_ copy_ masked_fill_ lerp_ eq_ clamp_min_ clamp_max_",
        shaped="repeat expand expand_as new_zeros new_ones new_full new_empty new_tensor "
        "index_select gather scatter scatter_add index_add diag masked_select nonzero "
        "repeat_interleave",
        matmul="matmul mm bmm mv dot inner",
    ),
}
TENSOR_ATTRIBUTES = frozenset(
    "grad grad_fn is_leaf requires_grad retains_grad shape dtype device ndim T mT data "
    "output_nr is_floating_point _version".split()
)

def torch_values() -> dict[str, object]:
    """Values reachable as ``torch.<name>``; none of them is callable."""
    import math

    import torch

    names = (
        "float float16 float32 float64 bfloat16 half double int int8 int16 int32 int64 long "
        "uint8 bool complex64 complex128"
    ).split()
    values: dict[str, object] = {name: getattr(torch, name) for name in names}
    values.update(pi=math.pi, e=math.e, inf=math.inf, nan=math.nan)
    return values


# Gradient-mode switches: usable in `with` and (set_grad_enabled) as a call.
GRAD_MODES = frozenset({"no_grad", "enable_grad", "set_grad_enabled", "inference_mode"})

# Calls that only change the program's own state.
PROGRAM_STATE_CALLS = frozenset({"manual_seed", "set_printoptions", "is_grad_enabled",
                                 "is_anomaly_enabled"})

# Methods and attributes of autograd nodes (grad_fn objects).
NODE_METHODS = frozenset({"name", "register_hook", "register_prehook"})
NODE_ATTRIBUTES = frozenset({"next_functions", "variable"})

# Attributes of torch.return_types results (max(dim=...), sort, topk...).
RETURN_TYPE_ATTRIBUTES = frozenset({"values", "indices"})

BUILTINS = frozenset(
    "print len range abs min max sum round float int bool str list tuple enumerate zip "
    "reversed repr".split()
)

IMPORTABLE = {
    "torch": "torch",
    "torch.nn": "torch.nn",
    "torch.nn.functional": "torch.nn.functional",
    "torch.nn.init": "torch.nn.init",
    "torch.optim": "torch.optim",
    "torch.autograd": "torch.autograd",
    "torch.nn.utils": "torch.nn.utils",  # clip_grad_norm_, clip_grad_value_
    "torch.optim.lr_scheduler": "torch.optim.lr_scheduler",  # StepLR and friends
    "torch.cuda": "torch.cuda",  # is_available() (False), device_count() (0)
    "math": "math",  # its pure functions and constants (autoviz.runner.pyvalues)
}

# exceptions a program may neither catch nor raise (catching them would swallow what
# stops a runaway program; the interpreter's own refusals are never catchable at all)
FORBIDDEN_EXCEPTIONS = frozenset({"BaseException", "KeyboardInterrupt", "SystemExit",
                                  "GeneratorExit", "MemoryError", "RecursionError"})
