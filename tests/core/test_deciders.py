"""The deciders: polls, items and deliveries decided from values alone (digests, quiet hours
and rate limits with an injected clock)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.config.channels import ChannelConfig
from monitor.core.alerts import PARIS as ALERT_ZONE
from monitor.core.deciders import (
    FeedAnswer,
    FeedFailure,
    Hold,
    ItemPolicy,
    PollPolicy,
    RecordFailure,
    RecordSuccess,
    Send,
    StoryFacts,
    candidate_stories,
    decide_delivery,
    decide_failure,
    decide_item,
    decide_merged,
    decide_poll,
    decide_refresh,
    needs_parsing,
)
from monitor.core.dedup import Fingerprint
from monitor.core.models import (
    Article,
    Entry,
    FeedState,
    Hit,
    Match,
    ParsedFeed,
    QueuedAlert,
    StoryAssignment,
)

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def alert(id: int, priority: str = "normal", batch: bool = False) -> QueuedAlert:
    return QueuedAlert(id, "ops", "r", priority, f"T{id}", {"rule": "r", "title": f"T{id}"},
                       batch, 0, at("2025-11-26T00:00"))


def channel(**settings) -> ChannelConfig:
    return ChannelConfig(urls=["json://x/y"], **settings)


def shape(result):
    sends, holds = result
    return [([a.id for a in s.alerts], s.digest) for s in sends], holds


def test_a_plain_channel_sends_each_alert_now() -> None:
    assert shape(decide_delivery([alert(1), alert(2)], channel(), at("2025-11-24T12:00"), PARIS)) == \
        ([([1], False), ([2], False)], [])
    assert shape(decide_delivery([alert(1)], None, at("2025-11-24T12:00"), PARIS)) == ([([1], False)], [])


def test_a_digest_channel_holds_new_alerts_then_sends_them_together() -> None:
    daily = channel(digest={"at": "08:00"})
    assert shape(decide_delivery([alert(1), alert(2)], daily, at("2025-11-24T12:00"), PARIS)) == \
        ([], [Hold((1, 2), at("2025-11-25T08:00"))])
    held = [alert(1, batch=True), alert(2, batch=True)]
    assert shape(decide_delivery(held, daily, at("2025-11-25T08:00"), PARIS)) == ([([1, 2], True)], [])


def test_quiet_hours_hold_all_but_high_priority() -> None:
    night = channel(quiet="22:00-07:00")
    sends, holds = shape(decide_delivery([alert(1), alert(2, "high"), alert(3, batch=True)], night,
                              at("2025-11-24T23:00"), PARIS))
    assert sends == [([2], False)]
    assert holds == [Hold((1, 3), at("2025-11-25T07:00"))]
    morning = [alert(1, batch=True), alert(3, batch=True)]
    assert shape(decide_delivery(morning, night, at("2025-11-25T07:00"), PARIS)) == ([([1, 3], True)], [])


def test_over_the_rate_limit_the_excess_waits_as_one_digest() -> None:
    limited = channel(rate_limit="2/min")
    now = at("2025-11-24T12:00")
    sends, holds = shape(decide_delivery([alert(i) for i in range(1, 6)], limited, now, PARIS))
    assert sends == [([1], False), ([2], False)]
    assert holds == [Hold((3, 4, 5), now + 60)]
    sends, holds = shape(decide_delivery([alert(6)], limited, now, PARIS, sent_in_window=2))
    assert (sends, holds) == ([], [Hold((6,), now + 60)])
    later = [alert(3, batch=True), alert(4, batch=True), alert(5, batch=True)]
    assert shape(decide_delivery(later, limited, now + 60, PARIS)) == ([([3, 4, 5], True)], [])


# -- decide_poll ------------------------------------------------------------------------------

NOW = 1_000_000.0
POLICY = PollPolicy(interval=600.0, max_backoff=3600.0, backfill=86400.0)


def state(**changes) -> FeedState:
    values = dict(url="https://a.fr/rss", name="A", etag='"v1"', last_modified="lundi",
                  body_hash="h1", next_check=0.0, failures=0, last_error=None,
                  last_success=NOW - 600, fetch_url="https://a.fr/rss")
    return FeedState(**(values | changes))


def entry(n: int, published: float) -> Entry:
    return Entry("https://a.fr/rss", f"g{n}", f"https://a.fr/{n}", f"Titre {n}", "",
                 datetime.fromtimestamp(published, UTC))


def test_a_304_keeps_the_validators_and_the_hash_and_parses_nothing() -> None:
    assert not needs_parsing(state(), True, None)
    intent = decide_poll(state(), FeedAnswer(None, None, not_modified=True), NOW, POLICY)
    assert isinstance(intent, RecordSuccess)
    assert (intent.status, intent.etag, intent.last_modified, intent.body_hash) == \
        ("not-modified", '"v1"', "lundi", "h1")
    assert intent.not_modified and NOW + 540 <= intent.next_check <= NOW + 660


def test_the_same_bytes_are_unchanged_and_new_bytes_are_parsed() -> None:
    assert not needs_parsing(state(), False, "h1")
    assert needs_parsing(state(), False, "h2")
    intent = decide_poll(state(), FeedAnswer('"v2"', None, body_hash="h1"), NOW, POLICY)
    assert isinstance(intent, RecordSuccess) and intent.status == "unchanged"
    assert intent.etag == '"v2"' and intent.last_modified is None  # a 200 drops old validators


def test_a_failure_backs_off_and_obeys_retry_after_up_to_a_day() -> None:
    first = decide_poll(state(), FeedFailure("HTTP 503", retry_after=7200), NOW, POLICY)
    assert isinstance(first, RecordFailure) and first.failures == 1
    assert first.next_check >= NOW + 7200  # beyond the interval: the server asked
    third = decide_poll(state(failures=2), FeedFailure("timeout"), NOW, POLICY)
    assert isinstance(third, RecordFailure) and third.failures == 3
    assert third.next_check > NOW + 2 * 600 * 0.9  # doubled
    capped = decide_poll(state(), FeedFailure("HTTP 429", retry_after=9e9), NOW, POLICY)
    assert isinstance(capped, RecordFailure) and capped.next_check <= NOW + 24 * 3600


def test_a_document_with_an_error_is_a_failure_and_a_warning_is_malformed() -> None:
    broken = ParsedFeed("", (), error="not a feed: HTML page")
    intent = decide_poll(state(), FeedAnswer(None, None, body_hash="h2", parsed=broken), NOW,
                         POLICY)
    assert isinstance(intent, RecordFailure) and intent.error == "not a feed: HTML page"
    odd = ParsedFeed("A", (entry(1, NOW),), warning="mismatched tag")
    intent = decide_poll(state(), FeedAnswer(None, None, body_hash="h2", parsed=odd), NOW, POLICY)
    assert isinstance(intent, RecordSuccess) and intent.status == "malformed"
    assert intent.body_hash == "h2" and intent.old == frozenset()


def test_a_first_poll_marks_old_news_and_max_age_delays_the_next() -> None:
    listed = ParsedFeed("A", (entry(1, NOW - 60), entry(2, NOW - 3 * 86400)))
    intent = decide_poll(state(last_success=None, body_hash=None),
                         FeedAnswer(None, None, body_hash="h", parsed=listed, fresh_for=1800),
                         NOW, POLICY)
    assert isinstance(intent, RecordSuccess)
    assert intent.old == frozenset({1})  # three days old: no alert
    assert intent.next_check >= NOW + 1800


# -- decide_item ------------------------------------------------------------------------------

ITEM_POLICY = ItemPolicy({}, "digest", ALERT_ZONE)


def article(outlet: str = "Le Monde") -> Article:
    return Article("https://a.fr/1", "Zelensky à Budapest", "", "texte", None, outlet, "page")


def print_(kind: str = "news") -> Fingerprint:
    return Fingerprint({}, None, None, 0, NOW, kind)


MATCH = Match("ukraine", (Hit("title", 0, 8, "zelensky"),), ("slack", "mail"))


def test_a_new_story_alerts_once_per_channel() -> None:
    facts = StoryFacts(None, StoryAssignment(None, "new"))
    decision = decide_item(article(), print_(), [MATCH], old=False, facts=facts, now=NOW,
                           policy=ITEM_POLICY)
    assert decision.assignment.story_id is None
    assert [(a.channel, a.kind) for a in decision.alerts] == [("slack", "alert"),
                                                              ("mail", "alert")]


def test_a_story_that_alerted_gets_a_follow_up_not_a_second_headline() -> None:
    facts = StoryFacts(None, StoryAssignment(7, "near-copy", 0.9), alerted={7: {
        "slack": ("ukraine", "normal")}}, outlets={7: frozenset({"RFI"})})
    assert candidate_stories(facts) == (7,)
    decision = decide_item(article(), print_(), [MATCH], old=False, facts=facts, now=NOW,
                           policy=ITEM_POLICY)
    kinds = sorted((a.channel, a.kind) for a in decision.alerts)
    assert kinds == [("mail", "alert"), ("slack", "followup")]
    followup = next(a for a in decision.alerts if a.kind == "followup")
    assert followup.title.startswith("Aussi repris par Le Monde")  # an outlet new to the story
    assert followup.hold_until is not None and followup.hold_until > NOW  # waits for the digest


def test_the_canonical_url_wins_and_merged_stories_count_as_alerted() -> None:
    facts = StoryFacts(3, None, alerted={3: {}, 4: {"mail": ("ukraine", "high")}})
    decision = decide_item(article(), print_(), [MATCH], old=False, facts=facts, now=NOW,
                           policy=ITEM_POLICY)
    assert decision.assignment == StoryAssignment(3, "same-url", 1.0)
    merged = StoryFacts(None, StoryAssignment(3, "near-copy", 0.8, merged=(4,)),
                        alerted={3: {}, 4: {"mail": ("ukraine", "high")}},
                        outlets={3: frozenset({"Le Monde"})})
    assert candidate_stories(merged) == (3, 4)
    decision = decide_item(article(), print_(), [MATCH], old=False, facts=merged, now=NOW,
                           policy=ITEM_POLICY)
    assert sorted((a.channel, a.kind) for a in decision.alerts) == [("mail", "followup"),
                                                                    ("slack", "alert")]
    assert next(a for a in decision.alerts if a.kind == "followup").title.startswith("Suite")


def test_old_news_and_dossiers_raise_nothing_and_a_live_page_follows_its_story() -> None:
    facts = StoryFacts(None, StoryAssignment(None, "new"))
    for old, kind in ((True, "news"), (False, "dossier")):
        assert decide_item(article(), print_(kind), [MATCH], old=old, facts=facts, now=NOW,
                           policy=ITEM_POLICY).alerts == ()
    live = StoryFacts(None, StoryAssignment(None, "live"), related=9,
                      alerted={9: {"slack": ("ukraine", "normal"), "mail": ("ukraine", "normal")}})
    assert candidate_stories(live) == (9,)
    decision = decide_item(article(), print_("live"), [MATCH], old=False, facts=live, now=NOW,
                           policy=ItemPolicy({}, "off", ALERT_ZONE))
    assert decision.assignment.story_id is None  # it stays out of the story
    assert decision.alerts == ()  # both channels had their headline; follow-ups are off


def test_a_muted_story_raises_nothing_not_even_through_a_story_it_merges() -> None:
    alerted = {7: {"slack": ("ukraine", "normal")}, 8: {}}
    joined = StoryFacts(None, StoryAssignment(7, "near-copy", 0.9), alerted=alerted,
                        outlets={7: frozenset({"RFI"})})
    loud = decide_item(article(), print_(), [MATCH], old=False, facts=joined, now=NOW,
                       policy=ITEM_POLICY)
    assert sorted(a.kind for a in loud.alerts) == ["alert", "followup"]  # unmuted: mail, slack
    muted = StoryFacts(None, StoryAssignment(7, "near-copy", 0.9), alerted=alerted,
                       outlets={7: frozenset({"RFI"})}, muted=frozenset({7}))
    quiet = decide_item(article(), print_(), [MATCH], old=False, facts=muted, now=NOW,
                        policy=ITEM_POLICY)
    assert quiet.alerts == () and quiet.assignment.story_id == 7  # still joins its story
    bridging = StoryFacts(None, StoryAssignment(8, "near-copy", 0.9, merged=(7,)),
                          alerted=alerted, muted=frozenset({7}))
    assert decide_item(article(), print_(), [MATCH], old=False, facts=bridging, now=NOW,
                       policy=ITEM_POLICY).alerts == ()
    live = StoryFacts(None, StoryAssignment(None, "live"), related=7, alerted=alerted,
                      muted=frozenset({7}))
    assert decide_item(article(), print_("live"), [MATCH], old=False, facts=live, now=NOW,
                       policy=ITEM_POLICY).alerts == ()
    other = StoryFacts(None, StoryAssignment(9, "near-copy", 0.9), muted=frozenset({7}))
    assert decide_item(article(), print_(), [MATCH], old=False, facts=other, now=NOW,
                       policy=ITEM_POLICY).alerts  # another story's mute is not this one's


def test_an_article_that_makes_its_story_spread_adds_the_spread_alert() -> None:
    from monitor.core.spread import Member, Spread, Watch

    watch = Watch("ukraine", Spread(3, 7200.0), ("slack",))
    policy = ItemPolicy({}, "off", ALERT_ZONE, (watch,))
    members = {7: [Member("RFI", "rfi.fr", NOW - 3600, ("ukraine",)),
                   Member("AFP", "afp.com", NOW - 1800)]}
    facts = StoryFacts(None, StoryAssignment(7, "near-copy", 0.9), members=members,
                       alerted={7: {"slack": ("ukraine", "normal")}})
    decision = decide_item(article(), print_(), [], old=False, facts=facts, now=NOW,
                           policy=policy)
    assert [(a.channel, a.subject) for a in decision.alerts] == [("slack", "spread:ukraine")]
    assert decide_item(article(), print_(), [], old=True, facts=facts, now=NOW,
                       policy=policy).alerts == ()
    rfi = Article("https://www.rfi.fr/2", "Zelensky à Budapest", "", "texte", None, "RFI", "page")
    assert decide_item(rfi, print_(), [], old=False, facts=facts, now=NOW,
                       policy=policy).alerts == ()  # a second RFI article: two outlets still


# -- decide_failure, decide_merged -----------------------------------------------------------

def test_a_failed_send_retries_each_alert_or_lets_it_die_past_its_age() -> None:
    young = QueuedAlert(1, "ops", "r", "normal", "T", {}, False, 0, NOW + 86400)
    dying = QueuedAlert(2, "ops", "r", "normal", "T", {}, True, 5, NOW + 1)
    retries = decide_failure(Send((young, dying), True), NOW, max_delay=3600)
    assert retries[0].alert_id == 1 and retries[0].at is not None and retries[0].at > NOW
    assert retries[1].alert_id == 2 and retries[1].at is None


def test_merged_headlines_become_follow_ups_or_are_dropped() -> None:
    payload = {"title": "Séisme", "url": "https://a.fr/1", "outlet": "RFI", "published": "",
               "rule": "r", "priority": "high"}
    (demote,) = decide_merged([(5, 8, payload)], NOW, "digest")
    assert demote.title.startswith("Aussi repris par RFI") and demote.hold_until is not None
    assert demote.payload is not None and demote.payload["priority"] == "high"
    (drop,) = decide_merged([(5, 8, payload)], NOW, "off")
    assert drop.payload is None


# -- what the mutation run found untested (bench/mutants.py) ----------------------------------

def test_a_new_document_is_recorded_whole_with_its_new_address() -> None:
    listed = ParsedFeed("A", (entry(1, NOW),))
    intent = decide_poll(state(), FeedAnswer('"v2"', "mardi", body_hash="h2", parsed=listed,
                                             moved_to="https://b.fr/rss"), NOW, POLICY)
    assert intent == RecordSuccess("new", '"v2"', "mardi", "h2", intent.next_check, listed,
                                   frozenset(), "https://b.fr/rss")
    assert NOW + 540 <= intent.next_check <= NOW + 660
    same = decide_poll(state(), FeedAnswer(None, None, body_hash="h1",
                                           moved_to="https://b.fr/rss"), NOW, POLICY)
    assert same == RecordSuccess("unchanged", None, None, "h1", same.next_check,
                                 moved_to="https://b.fr/rss")  # a 200 without validators


def test_priority_channels_and_the_zone_reach_the_alerts_and_follow_ups() -> None:
    montreal = ZoneInfo("America/Montreal")
    dated = Article("https://a.fr/1", "Zelensky à Budapest", "", "texte",
                    datetime(2025, 2, 10, 12, 0, tzinfo=UTC), "Le Monde", "page")
    urgent = Match("ukraine", (Hit("title", 0, 8, "zelensky"),), ("slack",), "high")
    policy = ItemPolicy({"high": ("pager",)}, "message", montreal)
    decision = decide_item(dated, print_(), [urgent], old=False,
                           facts=StoryFacts(None, None), now=NOW, policy=policy)
    assert decision.assignment == StoryAssignment(None, "new")
    assert [(a.channel, a.priority) for a in decision.alerts] == [("slack", "high"),
                                                                  ("pager", "high")]
    assert "07:00" in decision.alerts[0].payload["published"]  # 12:00 UTC, in Montréal
    followed = decide_item(dated, print_(), [urgent], old=False, facts=StoryFacts(
        None, StoryAssignment(7, "near-copy"), alerted={7: {"slack": ("ukraine", "high")}}),
        now=NOW, policy=policy)
    (followup,) = [a for a in followed.alerts if a.kind == "followup"]
    assert "07:00" in followup.payload["published"]


def test_a_story_without_headlines_yet_gets_them_and_old_news_gets_no_follow_up() -> None:
    quiet = StoryFacts(None, StoryAssignment(7, "near-copy", merged=(8,)), alerted={})
    decision = decide_item(article(), print_(), [MATCH], old=False, facts=quiet, now=NOW,
                           policy=ITEM_POLICY)
    assert sorted((a.channel, a.kind) for a in decision.alerts) == [("mail", "alert"),
                                                                    ("slack", "alert")]
    alerted = StoryFacts(None, StoryAssignment(7, "near-copy"),
                         alerted={7: {"slack": ("ukraine", "normal")}})
    assert decide_item(article(), print_(), [MATCH], old=True, facts=alerted, now=NOW,
                       policy=ITEM_POLICY).alerts == ()


def test_a_live_page_at_a_known_story_s_address_follows_that_story() -> None:
    at_its_url = StoryFacts(3, None, alerted={3: {"slack": ("ukraine", "normal"),
                                                 "mail": ("ukraine", "normal")}})
    decision = decide_item(article(), print_("live"), [MATCH], old=False, facts=at_its_url,
                           now=NOW, policy=ItemPolicy({}, "off", ALERT_ZONE))
    assert decision.assignment.story_id == 3 and decision.alerts == ()


def test_exactly_the_rate_limit_sends_all_and_holds_nothing() -> None:
    now = at("2025-11-24T12:00")
    assert shape(decide_delivery([alert(1), alert(2)], channel(rate_limit="2/min"), now,
                                 PARIS)) == ([([1], False), ([2], False)], [])


def test_a_retry_waits_by_the_alert_s_attempts_within_the_cap() -> None:
    def queued(attempts: int) -> QueuedAlert:
        return QueuedAlert(1, "ops", "r", "normal", "T", {}, False, attempts, NOW + 86400)

    ((retry,),) = [decide_failure(Send((queued(3),), False), NOW, max_delay=3600)]
    assert retry.at is not None and NOW + 40 <= retry.at <= NOW + 80  # the 4th: 80 s, jittered
    ((capped,),) = [decide_failure(Send((queued(5),), False), NOW, max_delay=30)]
    assert capped.at is not None and NOW + 15 <= capped.at <= NOW + 30


def test_a_demoted_or_dropped_headline_keeps_its_alert_and_item() -> None:
    payload = {"title": "Séisme", "url": "https://a.fr/1", "outlet": "RFI", "published": "",
               "rule": "r", "priority": "high"}
    for followups in ("digest", "off"):
        (demote,) = decide_merged([(5, 8, payload)], NOW, followups)
        assert (demote.alert_id, demote.item_id) == (5, 8)


def test_a_page_fetched_at_last_alerts_where_its_story_has_not() -> None:
    urgent = Match("ukraine", (Hit("text", 0, 8, "zelensky"),), ("slack", "mail"), "high")
    policy = ItemPolicy({"high": ("pager",)}, "digest", ZoneInfo("America/Montreal"))
    dated = Article("https://a.fr/1", "Zelensky à Budapest", "", "texte",
                    datetime(2025, 2, 10, 12, 0, tzinfo=UTC), "Le Monde", "page")
    alerts_ = decide_refresh(dated, [urgent], old=False,
                             alerted={"slack": ("ukraine", "high")}, policy=policy)
    assert [(a.channel, a.priority) for a in alerts_] == [("mail", "high"), ("pager", "high")]
    assert "07:00" in alerts_[0].payload["published"]  # 12:00 UTC, in the policy's zone
    assert decide_refresh(article(), [urgent], old=True, alerted={}, policy=policy) == ()
    assert decide_refresh(article(), [], old=False, alerted={}, policy=policy) == ()
    assert decide_refresh(article(), [urgent], old=False, alerted={}, policy=policy, muted=True) == ()
