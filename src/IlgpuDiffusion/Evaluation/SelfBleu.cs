namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Self-BLEU, a diversity measure (SDTT paper eq. 8, docs/algorithms.md §5.3): for each prompt, the mean over its n
/// continuations of <see cref="Bleu.Sentence"/>(xᵢ, the other n − 1 continuations); then the mean over
/// prompts. Higher means less diverse; identical continuations give 1 (deterministic sampling).
/// </summary>
public static class SelfBleu
{
    /// <summary>Self-BLEU of one prompt's continuations (at least two, none empty).</summary>
    /// <exception cref="ArgumentException">Fewer than two continuations, or an empty one.</exception>
    public static double OfGroup(IReadOnlyList<int[]> continuations)
    {
        ArgumentNullException.ThrowIfNull(continuations);
        if (Problem(continuations) is { } problem) throw new ArgumentException(problem, nameof(continuations));
        return OfValidGroup(continuations);
    }

    /// <summary>Mean over prompt groups of <see cref="OfGroup"/> (each group is one prompt's continuations).</summary>
    /// <exception cref="ArgumentException">There are no groups, or a group is invalid (the message names it).</exception>
    public static double Mean(IReadOnlyList<IReadOnlyList<int[]>> groups)
    {
        ArgumentNullException.ThrowIfNull(groups);
        if (groups.Count == 0) throw new ArgumentException("Self-BLEU needs at least one prompt group.", nameof(groups));
        for (int g = 0; g < groups.Count; g++)
        {
            if (groups[g] is null) throw new ArgumentException($"Prompt group {g} is null.", nameof(groups));
            if (Problem(groups[g]) is { } problem) throw new ArgumentException($"Prompt group {g}: {problem}", nameof(groups));
        }
        double sum = 0;
        foreach (IReadOnlyList<int[]> group in groups) sum += OfValidGroup(group);
        return sum / groups.Count;
    }

    private static string? Problem(IReadOnlyList<int[]> continuations)
    {
        if (continuations.Count < 2) return $"Self-BLEU needs at least two continuations of a prompt, got {continuations.Count}.";
        for (int i = 0; i < continuations.Count; i++)
        {
            if (continuations[i] is null || continuations[i].Length == 0) return $"Continuation {i} is null or empty.";
        }
        return null;
    }

    private static double OfValidGroup(IReadOnlyList<int[]> continuations)
    {
        double sum = 0;
        var others = new int[continuations.Count - 1][];
        for (int i = 0; i < continuations.Count; i++)
        {
            for (int j = 0, k = 0; j < continuations.Count; j++)
            {
                if (j != i) others[k++] = continuations[j];
            }
            sum += Bleu.Sentence(continuations[i], others);
        }
        return sum / continuations.Count;
    }
}
