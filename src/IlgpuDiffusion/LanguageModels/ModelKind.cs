namespace IlgpuDiffusion;

/// <summary>What a model generates with.</summary>
public enum ModelKind
{
    /// <summary>A masked diffusion model (MDLM, or an SDTT student): the DiT, sampled by denoising.</summary>
    Diffusion,

    /// <summary>A GPT-2-style autoregressive model, decoded left to right.</summary>
    Autoregressive,
}
