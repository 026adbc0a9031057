"""The builtin moderation provider: the policy file's terms and regexes, reloaded when the file changes."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from images.apps import check_moderation_policy
from images.moderation.builtin import BuiltinModerator
from images.moderation.policy import DEFAULT_POLICY_FILE, PolicyError, PolicyFile, load_policy, parse_policy

POLICY = """
# test policy
[violence]
review term: gore
block regex: \\bbehead(ed|ing)?\\b   # inline comment

[spam]
block term: buy   now
"""


@pytest.fixture
def policy_file(tmp_path, settings):
    path = tmp_path / "policy.txt"
    path.write_text(POLICY)
    settings.MODERATION_POLICY_FILE = str(path)
    return path


def test_a_block_rule_blocks_and_names_its_category():
    verdict = parse_policy(POLICY).check("a knight beheading a dragon")

    assert (verdict.action, verdict.categories) == ("block", ("violence",))


def test_a_review_term_matches_whole_words_case_insensitively():
    policy = parse_policy(POLICY)

    assert policy.check("GORE everywhere").action == "review"
    assert policy.check("a gorgeous sunset").action == "allow"  # not a whole word


def test_a_phrase_matches_across_any_whitespace():
    assert parse_policy(POLICY).check("buy\n  now!").categories == ("spam",)


def test_block_wins_over_review_and_only_blocking_categories_are_named():
    verdict = parse_policy(POLICY).check("gore, buy now")

    assert (verdict.action, verdict.categories) == ("block", ("spam",))


def test_a_bad_regex_is_an_error_naming_the_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("[x]\nreview term: ok\nblock regex: (unclosed\n")

    with pytest.raises(PolicyError, match=rf"{path}:3: bad regular expression"):
        load_policy(path)


def test_a_line_that_is_no_rule_is_an_error_naming_the_line():
    with pytest.raises(PolicyError, match=r"<policy>:2: expected"):
        parse_policy("[x]\nforbid: this")


def test_a_bad_policy_stops_the_start_naming_the_line(tmp_path, settings):
    path = tmp_path / "bad.txt"
    path.write_text("[x]\nblock regex: [a-\n")
    settings.MODERATION_POLICY_FILE = str(path)
    settings.MODERATION_PROVIDER = "builtin"

    with pytest.raises(ImproperlyConfigured, match=r"bad.txt:2: bad regular expression"):
        check_moderation_policy()


def test_the_shipped_default_policy_loads_and_lets_ordinary_prompts_through():
    policy = load_policy(DEFAULT_POLICY_FILE)

    assert policy.rules
    for prompt in ("a lighthouse in a storm", "a red apple on a table", "portrait of a child playing in a park"):
        assert policy.check(prompt).action == "allow", prompt
    assert policy.check("explicit porn").action == "block"
    assert policy.check("a nude figure study").action == "review"


def _touch_later(path, text: str) -> None:
    stat = path.stat()
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_the_file_is_read_again_when_it_changes_without_a_restart(policy_file):
    moderator = BuiltinModerator()
    assert moderator.check_text("kittens").action == "allow"

    _touch_later(policy_file, "[cats]\nblock term: kittens\n")

    assert moderator.check_text("kittens").categories == ("cats",)


def test_a_change_that_breaks_the_file_keeps_the_last_good_policy(policy_file, caplog):
    file = PolicyFile(policy_file)

    _touch_later(policy_file, "[x]\nblock regex: (\n")

    assert file.policy().check("gore").action == "review"
    assert "not reloaded" in caplog.text


def test_images_are_not_looked_at_by_the_builtin_provider(policy_file):
    assert BuiltinModerator().check_image(b"gore", content_type="image/png").action == "allow"
