"""Turn Python values into compact, labelled prompt content: text blocks within a token budget, and images.

``describe_value`` summarizes dataframes, arrays, collections, strings, exceptions, code, figures and any
other object as a :class:`Block`; ``to_image_part`` turns figures, PIL images, image bytes, arrays and files
into a downscaled :class:`ImagePart`; ``estimate_tokens``, ``token_upper_bound`` and ``image_url_tokens``
count tokens offline. pandas, polars, numpy, matplotlib and PIL are imported only when a value of theirs is
met.
"""

from .blocks import Block, ContextError
from .describe import describe_value
from .images import ImagePart, to_image_part
from .tokens import estimate_image_tokens, estimate_tokens, image_url_tokens, token_upper_bound

__all__ = [
    "Block",
    "ContextError",
    "ImagePart",
    "describe_value",
    "estimate_image_tokens",
    "estimate_tokens",
    "image_url_tokens",
    "to_image_part",
    "token_upper_bound",
]
