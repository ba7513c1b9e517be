namespace IlgpuDiffusion.Training;

/// <summary>
/// Independent Philox keys for each kind of randomness of a run, derived from its one seed (a SplitMix64
/// finalizer over seed and purpose), so that times, masks and dropout never share a random stream.
/// Each is combined with a counter (micro-batch or validation batch) as the Philox stream.
/// </summary>
internal static class TrainingSeeds
{
    /// <summary>Key of the diffusion times of training micro-batches.</summary>
    public static ulong Times(ulong seed) => Mix(seed, 1);

    /// <summary>Key of the masks of training micro-batches.</summary>
    public static ulong Masks(ulong seed) => Mix(seed, 2);

    /// <summary>Key of the dropout masks of training micro-batches.</summary>
    public static ulong Dropout(ulong seed) => Mix(seed, 3);

    /// <summary>Key of validation times (the same for every validation, so that passes compare).</summary>
    public static ulong ValidationTimes(ulong seed) => Mix(seed, 4);

    /// <summary>Key of validation masks (the same for every validation).</summary>
    public static ulong ValidationMasks(ulong seed) => Mix(seed, 5);

    /// <summary>Key of the distillation teacher's reveal decisions (which masked positions each teacher step unmasks).</summary>
    public static ulong TeacherReveals(ulong seed) => Mix(seed, 6);

    /// <summary>Key of the distillation teacher's categorical draws for the positions it reveals.</summary>
    public static ulong TeacherDraws(ulong seed) => Mix(seed, 7);

    private static ulong Mix(ulong seed, ulong purpose)
    {
        ulong z = seed + purpose * 0x9E3779B97F4A7C15ul;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
        return z ^ (z >> 31);
    }
}
