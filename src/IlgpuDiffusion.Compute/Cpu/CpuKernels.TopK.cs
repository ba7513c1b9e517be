using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu;

// The top-k filter of autoregressive sampling: the k-th largest value of each row by quickselect on a
// per-chunk copy, then −∞ below it; parallel over rows.
public sealed unsafe partial class CpuKernels
{
    private readonly TopKJob _topK = new();
    private float[]? _topKScratch;

    /// <inheritdoc/>
    public void KeepTopK(Tensor<float> logits, int rows, int classes, int vocab, int k)
    {
        OpChecks.KeepTopK(logits, rows, classes, vocab, k);
        if (k >= vocab || rows == 0) return;
        int chunks = ChunkedJob.ChunkCount(rows, 1, _pool.Threads);
        var job = _topK;
        job.Scratch = Scratch(ref _topKScratch, (long)chunks * vocab);
        job.Logits = logits.Pointer();
        job.Classes = classes;
        job.Vocab = vocab;
        job.K = k;
        job.Run(_pool, rows, 1);
    }

    private sealed class TopKJob : ChunkedJob
    {
        public float* Logits, Scratch;
        public int Classes, Vocab, K;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            var copy = new Span<float>(Scratch + (long)chunk * Vocab, Vocab);
            for (int r = start; r < end; r++)
            {
                var row = new Span<float>(Logits + (long)r * Classes, Vocab);
                row.CopyTo(copy);
                float threshold = KthLargest(copy, K);
                for (int v = 0; v < row.Length; v++)
                    if (row[v] < threshold) row[v] = float.NegativeInfinity;
            }
        }

        /// <summary>The k-th largest value of <paramref name="values"/> (reordered): Hoare quickselect, median-of-three pivots.</summary>
        private static float KthLargest(Span<float> values, int k)
        {
            int target = values.Length - k; // its index in ascending order
            int low = 0, high = values.Length - 1;
            while (low < high)
            {
                int middle = low + (high - low) / 2;
                float a = values[low], b = values[middle], c = values[high];
                float pivot = Math.Max(Math.Min(a, b), Math.Min(Math.Max(a, b), c));
                int i = low, j = high;
                while (i <= j)
                {
                    while (values[i] < pivot) i++;
                    while (values[j] > pivot) j--;
                    if (i <= j)
                    {
                        (values[i], values[j]) = (values[j], values[i]);
                        i++;
                        j--;
                    }
                }
                if (target <= j) high = j;
                else if (target >= i) low = i;
                else return values[target];
            }
            return values[target];
        }
    }
}
