"""The models the emulator offers, in OpenRouter's ``/models`` shape, with their prices (USD per token)."""

from __future__ import annotations

from typing import Any

_REASONING_PARAMETERS = [
    "include_reasoning",
    "max_tokens",
    "reasoning",
    "response_format",
    "seed",
    "structured_outputs",
    "tool_choice",
    "tools",
]
_CHAT_PARAMETERS = [
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "max_tokens",
    "presence_penalty",
    "response_format",
    "seed",
    "stop",
    "structured_outputs",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
]


def _model(
    model_id: str,
    name: str,
    *,
    prompt: str,
    completion: str,
    cache_read: str,
    image: str,
    context: int,
    max_out: int,
    modalities: list[str],
    parameters: list[str],
) -> dict[str, Any]:
    return {
        "id": model_id,
        "canonical_slug": model_id,
        "name": name,
        "created": 1744848000,
        "description": f"{name} (offline emulator entry).",
        "context_length": context,
        "architecture": {
            "modality": "text+image->text",
            "input_modalities": modalities,
            "output_modalities": ["text"],
            "tokenizer": "GPT" if model_id.startswith("openai/") else "Claude",
            "instruct_type": None,
        },
        "pricing": {
            "prompt": prompt,
            "completion": completion,
            "request": "0",
            "image": image,
            "web_search": "0",
            "internal_reasoning": "0",
            "input_cache_read": cache_read,
        },
        "top_provider": {"context_length": context, "max_completion_tokens": max_out, "is_moderated": True},
        "per_request_limits": None,
        "supported_parameters": parameters,
    }


MODELS: list[dict[str, Any]] = [
    _model(
        "openai/o4-mini",
        "OpenAI: o4 Mini",
        prompt="0.0000011",
        completion="0.0000044",
        cache_read="0.000000275",
        image="0.000842",
        context=200000,
        max_out=100000,
        modalities=["image", "text", "file"],
        parameters=_REASONING_PARAMETERS,
    ),
    _model(
        "openai/gpt-4o-mini",
        "OpenAI: GPT-4o-mini",
        prompt="0.00000015",
        completion="0.0000006",
        cache_read="0.000000075",
        image="0.000217",
        context=128000,
        max_out=16384,
        modalities=["text", "image", "file"],
        parameters=_CHAT_PARAMETERS,
    ),
    _model(
        "anthropic/claude-3.5-haiku",
        "Anthropic: Claude 3.5 Haiku",
        prompt="0.0000008",
        completion="0.000004",
        cache_read="0.00000008",
        image="0",
        context=200000,
        max_out=8192,
        modalities=["text", "image"],
        parameters=[p for p in _CHAT_PARAMETERS if "logprobs" not in p and p != "logit_bias"],
    ),
]

MODEL_IDS = frozenset(model["id"] for model in MODELS)


def prices(model_id: str) -> dict[str, float]:
    """Per-token prices of ``model_id``: ``prompt``, ``completion`` and ``input_cache_read``."""
    pricing = next(model["pricing"] for model in MODELS if model["id"] == model_id)
    return {key: float(pricing[key]) for key in ("prompt", "completion", "input_cache_read")}


def provider_name(model_id: str) -> str:
    """The provider OpenRouter names for ``model_id`` (``OpenAI``, ``Anthropic``...)."""
    return "OpenAI" if model_id.startswith("openai/") else model_id.split("/")[0].title()


def supports_reasoning(model_id: str) -> bool:
    """Whether ``model_id`` reasons (takes the ``reasoning`` parameter), so it may send reasoning details."""
    model = next((model for model in MODELS if model["id"] == model_id), None)
    return model is not None and "reasoning" in model["supported_parameters"]
