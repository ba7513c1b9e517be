namespace IlgpuDiffusion.Evaluation;

/// <summary>Where a running evaluation stands, reported after each batch or example.</summary>
/// <param name="Stage">What is running, e.g. "Generative perplexity", "MAUVE", "LAMBADA".</param>
/// <param name="Model">The model being evaluated.</param>
/// <param name="Steps">The sampling steps, where they apply.</param>
/// <param name="Done">Units (samples, sequences, examples) done in this stage.</param>
/// <param name="Total">Units in this stage.</param>
public readonly record struct EvaluationProgress(string Stage, string Model, int? Steps, int Done, int Total);
