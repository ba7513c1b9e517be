namespace IlgpuDiffusion.Cli.Demo;

/// <summary>The stages of the demo, in the order they run; each reads what the earlier ones wrote.</summary>
internal enum DemoStage
{
    /// <summary>Prepare the token shards (the embedded corpus, or <c>--data</c>).</summary>
    Data,

    /// <summary>Train the MDLM teacher.</summary>
    Teacher,

    /// <summary>Train the AR judge (the parameter-matched GPT) on the same shards.</summary>
    Judge,

    /// <summary>Distill the teacher with SDTT rounds into students.</summary>
    Distill,

    /// <summary>Evaluate the teacher, the students and the judge; time sampling against the AR model.</summary>
    Evaluate,

    /// <summary>Write <c>report.md</c> and its plots.</summary>
    Report,
}

/// <summary>Names of the stages as <c>--from</c> takes them.</summary>
internal static class DemoStages
{
    /// <summary>Every stage in order.</summary>
    public static IReadOnlyList<DemoStage> All { get; } = Enum.GetValues<DemoStage>();

    /// <summary>The lower-case name, e.g. <c>distill</c>.</summary>
    public static string Name(this DemoStage stage) => stage.ToString().ToLowerInvariant();

    /// <summary>What the stage does, for progress lines.</summary>
    public static string Title(this DemoStage stage) => stage switch
    {
        DemoStage.Data => "Data",
        DemoStage.Teacher => "MDLM teacher",
        DemoStage.Judge => "AR judge",
        DemoStage.Distill => "SDTT distillation",
        DemoStage.Evaluate => "Evaluation",
        _ => "Report",
    };

    /// <summary>The stage called <paramref name="name"/>.</summary>
    /// <exception cref="ArgumentException">No stage has that name.</exception>
    public static DemoStage Parse(string name)
    {
        foreach (DemoStage stage in All)
            if (stage.Name() == name) return stage;
        throw new ArgumentException($"Unknown stage '{name}'; use {string.Join(", ", All.Select(s => s.Name()))}.", nameof(name));
    }
}
