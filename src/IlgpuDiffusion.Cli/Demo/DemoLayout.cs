namespace IlgpuDiffusion.Cli.Demo;

/// <summary>Where the demo keeps each stage's outputs inside its output folder.</summary>
/// <param name="Root">The output folder (<c>--output</c>).</param>
internal sealed record DemoLayout(string Root)
{
    /// <summary>Stage markers: <c>stages/{stage}.json</c>.</summary>
    public string StagesFolder => Path.Combine(Root, "stages");

    /// <summary>The teacher's checkpoint.</summary>
    public string Teacher => Path.Combine(Root, "teacher.safetensors");

    /// <summary>The teacher's training metrics (JSON lines).</summary>
    public string TeacherMetrics => Path.Combine(Root, "teacher.metrics.jsonl");

    /// <summary>The AR judge's checkpoint.</summary>
    public string Judge => Path.Combine(Root, "judge.safetensors");

    /// <summary>The AR judge's training metrics (JSON lines).</summary>
    public string JudgeMetrics => Path.Combine(Root, "judge.metrics.jsonl");

    /// <summary>The students' checkpoints, one per round.</summary>
    public string Students => Path.Combine(Root, "students");

    /// <summary>The distillation metrics (JSON lines).</summary>
    public string DistillMetrics => Path.Combine(Root, "distill.metrics.jsonl");

    /// <summary>The latency comparison (JSON).</summary>
    public string Latency => Path.Combine(Root, "latency.json");

    /// <summary>The samples shown in the report (JSON).</summary>
    public string Samples => Path.Combine(Root, "samples.json");

    /// <summary>The report's plots.</summary>
    public string Figures => Path.Combine(Root, "figures");

    /// <summary>The report.</summary>
    public string Report => Path.Combine(Root, "report.md");

    /// <summary>The marker of <paramref name="stage"/>.</summary>
    public string Marker(DemoStage stage) => Path.Combine(StagesFolder, stage.Name() + ".json");
}
