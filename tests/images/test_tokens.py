"""images/tokens.py: the usage estimate for providers that report none."""

from __future__ import annotations

from images import tokens


def test_output_tokens_follow_openais_1024_counts_scaled_by_area():
    assert tokens.output_tokens(1024, 1024, "low") == 272
    assert tokens.output_tokens(1024, 1024, "hd") == 4160
    assert tokens.output_tokens(512, 512, "") == 1056 // 4  # auto counts as medium


def test_an_input_image_counts_its_512px_tiles():
    assert tokens.image_input_tokens(512, 512) == 85 + 170  # never scaled up: one tile
    assert tokens.image_input_tokens(2048, 4096) == 85 + 170 * 2 * 3  # 768x1536 after scaling


def test_the_estimate_adds_up_and_says_it_is_one():
    usage = tokens.estimate_usage(prompt="x" * 9, width=1024, height=1024, n=2, quality="high", input_sizes=[(64, 64)])
    assert usage["input_tokens_details"] == {"text_tokens": 3, "image_tokens": 255}
    assert usage["output_tokens"] == 2 * 4160
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["estimated"] is True


def test_shares_of_a_requests_usage_add_up_to_it():
    usage = {"input_tokens": 10, "output_tokens": 101, "total_tokens": 111}
    shares = [tokens.usage_share(usage, index, 3) for index in range(3)]
    assert sum(s["input_tokens"] for s in shares) == 10 and sum(s["output_tokens"] for s in shares) == 101
    assert sum(s["total_tokens"] for s in shares) == 111


def test_both_quality_vocabularies_resolve():
    assert [tokens.resolved_quality(q) for q in ("standard", "hd", "low", "auto", "")] == [
        "medium", "high", "low", "auto", "auto"
    ]  # fmt: skip
