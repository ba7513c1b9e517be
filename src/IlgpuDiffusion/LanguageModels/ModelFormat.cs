namespace IlgpuDiffusion;

/// <summary>How a model's weights are stored.</summary>
public enum ModelFormat
{
    /// <summary>A training checkpoint file written by training or distillation (raw weights, their EMA, optimizer state).</summary>
    Checkpoint,

    /// <summary>A Hugging Face model folder: <c>config.json</c> and <c>model.safetensors</c> (one set of weights).</summary>
    HuggingFaceFolder,
}
