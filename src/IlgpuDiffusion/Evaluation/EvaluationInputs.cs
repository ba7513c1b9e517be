using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// A diffusion model to evaluate, with the weights to evaluate loaded (the EMA, as
/// <see cref="Diffusion.MdlmCheckpoint.LoadModel"/> loads by default).
/// </summary>
/// <param name="Name">Row label, e.g. "MDLM teacher" or "SDTT round 3".</param>
/// <param name="Model">The model.</param>
public sealed record DiffusionSubject(string Name, Dit Model);

/// <summary>The autoregressive baseline to evaluate (validation perplexity and LAMBADA by teacher forcing).</summary>
/// <param name="Name">Row label, e.g. "AR baseline".</param>
/// <param name="Model">The model, weights loaded (<see cref="GptCheckpoint.LoadModel"/> loads the EMA).</param>
public sealed record ArSubject(string Name, Gpt Model);

/// <summary>What an <see cref="EvaluationSuite"/> evaluates, and the data and judge it evaluates with. The suite owns none of it.</summary>
public sealed record EvaluationInputs
{
    /// <summary>The diffusion models (teacher, students); may be empty when only an AR model is evaluated.</summary>
    public IReadOnlyList<DiffusionSubject> DiffusionModels { get; init; } = [];

    /// <summary>The AR baseline, if any.</summary>
    public ArSubject? ArModel { get; init; }

    /// <summary>The generative-perplexity judge, e.g. a <see cref="GptJudge"/>; without it generative perplexity is skipped.</summary>
    public ITokenScorer? Judge { get; init; }

    /// <summary>The MAUVE feature model, e.g. the same <see cref="GptJudge"/>; without it prompted generation is skipped.</summary>
    public IFeatureExtractor? Features { get; init; }

    /// <summary>Says in the report what judged, e.g. "own AR judge (12 layers, 768 wide)" or "GPT-2 large (HF weights)".</summary>
    public string JudgeDescription { get; init; } = "AR judge";

    /// <summary>Validation shards (held-out documents): validation perplexity, prompts and the cloze come from here.</summary>
    public TokenShardSet? Validation { get; init; }

    /// <summary>LAMBADA passages (<see cref="LambadaReader.Read"/>); without them LAMBADA is skipped.</summary>
    public IReadOnlyList<LambadaPassage>? Lambada { get; init; }

    /// <summary>Where <see cref="Lambada"/> came from, for the report.</summary>
    public string LambadaSource { get; init; } = "lambada_test.jsonl";
}
