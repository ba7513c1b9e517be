namespace IlgpuDiffusion.Compute;

/// <summary>The argument checks of the op set III (<see cref="IKernels.CrossEntropy"/>, <see cref="IKernels.KeepTopK"/>), shared by every backend.</summary>
public static class AutoregressiveOpChecks
{
    /// <summary>
    /// <see cref="IKernels.CrossEntropy"/> shapes (the target ids are checked by each backend where it reads them).
    /// </summary>
    public static void CrossEntropy(Tensor<float> logits, Tensor<int> targets, Tensor<float> weights, Tensor<float> losses,
        Tensor<float>? dLogits, int rows, int classes)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes);
        Check.Count(logits, (long)rows * classes, nameof(logits));
        Check.Count(dLogits, (long)rows * classes, nameof(dLogits));
        Check.Count(targets, rows, nameof(targets));
        Check.Count(weights, rows, nameof(weights));
        Check.Count(losses, rows, nameof(losses));
    }

    /// <summary><see cref="IKernels.KeepTopK"/>: logits [rows, classes] with vocab ≤ classes, k ≥ 1.</summary>
    public static void KeepTopK(Tensor<float> logits, int rows, int classes, int vocab, int k)
    {
        Check.Sizes(true, rows);
        Check.Sizes(false, classes, vocab);
        if (vocab > classes)
            throw new ArgumentOutOfRangeException(nameof(vocab), $"Cannot filter {vocab} entries of rows with {classes} classes.");
        if (k < 1)
            throw new ArgumentOutOfRangeException(nameof(k), $"Top-k keeps at least one entry; got k = {k}.");
        Check.Count(logits, (long)rows * classes, nameof(logits));
    }
}
