using System.Globalization;
using System.Text;
using IlgpuDiffusion.Evaluation;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>
/// The report's headline section: does the teacher read its context (masked cross-entropy at t = 0.1 against t = 0.9),
/// how much quality it loses sampled in the fewest instead of the most steps (generative perplexity in both conventions,
/// with 95% intervals), and what share of that loss each student wins back. SDTT (arXiv 2410.21035) has something to
/// recover only when the teacher does lose quality with fewer steps; this section says whether it does, from the numbers.
/// </summary>
internal static class StepGapSection
{
    /// <summary>The section's heading.</summary>
    public const string Heading = "## What SDTT has to recover here, and what it recovers";

    /// <summary>A teacher "reads its context" when its CE at t = 0.1 is at least this many nats below its CE at t = 0.9.</summary>
    public const double ContextMargin = 0.5;

    /// <summary>The section as Markdown.</summary>
    public static string Write(DemoResults results)
    {
        var culture = CultureInfo.InvariantCulture;
        var text = new StringBuilder();
        text.Append(Heading).Append("\n\n");
        string teacher = DistillationStage.TeacherName;

        string low = EvaluationSuite.MaskedCrossEntropyName(EvaluationSuite.ContextTimes[0]);
        string high = EvaluationSuite.MaskedCrossEntropyName(EvaluationSuite.ContextTimes[^1]);
        if (results.Value(teacher, null, low) is double seen && results.Value(teacher, null, high) is double hidden)
        {
            double gain = hidden - seen;
            text.Append(culture,
                $"**Context.** The teacher's masked cross-entropy is {seen:F2} nats with 10% of the tokens masked and {hidden:F2} " +
                $"with 90% masked: seeing the context saves it {gain:F2} nats per token, so it " +
                $"{(gain >= ContextMargin ? "reads its context" : $"barely reads its context (less than {ContextMargin} nats)")}.\n\n");
        }

        int fewest = results.Steps[0], most = results.Steps[^1];
        bool teacherGap = false;
        foreach (string convention in new[] { DemoResults.GenPplSdtt, DemoResults.GenPplMdlm })
        {
            if (results.Metric(teacher, fewest, convention) is not { } few || results.Metric(teacher, most, convention) is not { } many)
                continue;
            bool separate = Separate(few, many);
            if (convention == DemoResults.GenPplSdtt) teacherGap = separate && few.Value > many.Value;
            text.Append(culture,
                $"**Teacher, {convention}.** {few.Format()} at {fewest} steps against {many.Format()} at {most} steps " +
                $"(95% intervals over samples): {fewest} steps is {100 * Math.Abs(few.Value / many.Value - 1):F0}% " +
                $"{(few.Value >= many.Value ? "worse" : "better")}; the intervals ");
            text.Append(separate
                ? "do not overlap, so the difference is outside the sampling spread.\n\n"
                : "overlap, so the difference is within the sampling spread.\n\n");
        }

        text.Append("**What the students win back** (SDTT convention). A student sampling in N steps is compared with the teacher " +
            "at N and at 4N (2N where 4N was not sampled); \"won back\" is the share of the teacher's loss from 4N to N that the " +
            "student recovers, measured on the mean log-likelihood (100% = as good as the teacher at 4N, above 100% = better, " +
            "below 0% = worse than the teacher at N).\n\n");
        text.Append("| Student | N | Student at N | Teacher at N | Teacher at 2N–4N | Won back |\n|---|---:|---:|---:|---:|---:|\n");
        var shares = new List<double>();
        int matched = 0;
        foreach (string student in results.DiffusionModels.Where(m => m != teacher))
        {
            int n = results.Steps.FirstOrDefault(s => student.Contains($"({s} steps)", StringComparison.Ordinal));
            if (n == 0) continue;
            EvaluationMetric? own = results.Metric(student, n, DemoResults.GenPplSdtt);
            EvaluationMetric? same = results.Metric(teacher, n, DemoResults.GenPplSdtt);
            int reference = results.Value(teacher, 4 * n, DemoResults.GenPplSdtt) is null ? 2 * n : 4 * n;
            EvaluationMetric? better = results.Metric(teacher, reference, DemoResults.GenPplSdtt);
            if (own is not null && results.Value(teacher, 2 * n, DemoResults.GenPplSdtt) is double twice
                && own.Value <= twice * PaperClaims.MatchTolerance)
                matched++;
            string share = "—";
            if (own is not null && same is not null && better is not null && same.Value > better.Value)
            {
                double won = Math.Log(same.Value / own.Value) / Math.Log(same.Value / better.Value);
                shares.Add(won);
                share = string.Create(culture, $"{100 * won:F0}%");
            }
            string references = better is null ? "—" : string.Create(culture, $"{better.Format()} ({reference})");
            text.Append(culture, $"| {student} | {n} | {Cell(own)} | {Cell(same)} | {references} | {share} |\n");
        }
        text.Append('\n');

        text.Append("**Plainly.** ");
        if (!teacherGap)
            text.Append("The teacher does not lose quality measurably with fewer steps in this run, so there is no step-count gap " +
                "for the students to close, and this run can neither confirm nor refute the paper's claim.\n\n");
        else if (shares.Count == 0)
            text.Append("The teacher loses quality with fewer steps, but no student was measured against it.\n\n");
        else
        {
            text.Append(culture,
                $"The teacher loses quality with fewer steps, beyond the sampling noise. The students win back " +
                $"{100 * shares.Min():F0}–{100 * shares.Max():F0}% of it (mean {100 * shares.Average():F0}%); " +
                $"{matched} of {shares.Count} match the teacher at 2N or better. The paper's claim (a student at N matches its teacher " +
                $"at 2N–4N) {(matched == shares.Count ? "holds here" : matched > 0 ? "holds here only in part" : "does not hold here")} " +
                $"at this small scale.\n\n");
        }
        return text.ToString();
    }

    /// <summary>Whether the 95% intervals of two values are disjoint (false when either has none).</summary>
    private static bool Separate(EvaluationMetric a, EvaluationMetric b) =>
        a is { Low: double aLow, High: double aHigh } && b is { Low: double bLow, High: double bHigh } && (aLow > bHigh || bLow > aHigh);

    private static string Cell(EvaluationMetric? metric) => metric?.Format() ?? "—";
}
