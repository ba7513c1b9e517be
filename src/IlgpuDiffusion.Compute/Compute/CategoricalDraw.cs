namespace IlgpuDiffusion.Compute;

/// <summary>How a categorical draw turns fp64 uniforms into an id; both are exact draws from the softmax.</summary>
public enum CategoricalDraw
{
    /// <summary>
    /// One uniform per row against the fp64 running sum of the probabilities in id order: one exp per vocabulary entry
    /// (the default; several times faster over a large vocabulary).
    /// </summary>
    InverseCdf,

    /// <summary>
    /// The exponential race (Gumbel-max in fp64), one uniform and two logs per vocabulary entry: the method of MDLM's
    /// reference sampler, kept to reproduce ids drawn with it.
    /// </summary>
    ExponentialRace,
}
