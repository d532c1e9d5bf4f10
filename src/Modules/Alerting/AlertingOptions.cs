using System.ComponentModel.DataAnnotations;

namespace Canopy.Alerting;

/// <summary>Alerting settings (section <c>Alerting</c>): how the rules' evaluation reads the feed of stored readings.</summary>
public sealed class AlertingOptions
{
    public const string Section = "Alerting";

    /// <summary>How long an instance trusts what it read of a tenant's enabled rules: a rule created on another instance watches readings from at most this much later.</summary>
    [Range(1, 300)]
    public int RuleCacheSeconds { get; set; } = 5;

    /// <summary>Pause of the evaluation worker after it found the feed empty.</summary>
    [Range(10, 5000)]
    public int FeedPollMilliseconds { get; set; } = 200;

    /// <summary>Feed entries (stored batches) read at a time.</summary>
    [Range(1, 1000)]
    public int FeedBatch { get; set; } = 100;

    /// <summary>
    /// An entry delivered to a worker that has not handled it for this long (it stopped, or cannot
    /// reach PostgreSQL) is taken over by another. Short, for alerts within 10 s: an entry
    /// evaluated twice changes nothing the second time (its readings are behind the pair's state).
    /// </summary>
    [Range(1, 3600)]
    public int FeedClaimIdleSeconds { get; set; } = 5;

    /// <summary>Times an entry whose evaluation fails for a reason other than an unavailable database or Redis is tried before it is dropped (logged as an error).</summary>
    [Range(1, 100)]
    public int FeedMaxAttempts { get; set; } = 5;
}
