namespace IlgpuDiffusion.Evaluation;

/// <summary>Settings of <see cref="LambadaClozeBuilder"/>; the defaults give passages about as long as LAMBADA's.</summary>
public sealed record LambadaClozeOptions
{
    /// <summary>Fewest words before the target word (LAMBADA's contexts average about 4–5 sentences).</summary>
    public int MinContextWords { get; init; } = 40;

    /// <summary>Most words before the target word; leading sentences are dropped to stay within it.</summary>
    public int MaxContextWords { get; init; } = 100;

    /// <summary>Fewest letters of a target word (skips "a", "I", "it" and the like).</summary>
    public int MinWordLetters { get; init; } = 3;

    /// <summary>
    /// Keep only passages whose target word already occurs (case-insensitively) in a sentence before the last one: the
    /// word is then predictable from the wider passage, the property LAMBADA's human filtering selected for.
    /// </summary>
    public bool RequireWordInEarlierSentences { get; init; } = true;

    /// <summary>Stop after this many passages (null: every qualifying passage).</summary>
    public int? MaxPassages { get; init; }

    /// <summary>The defaults.</summary>
    public static LambadaClozeOptions Default { get; } = new();
}
