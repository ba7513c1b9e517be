using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// Categorical draws (fp64 inverse CDF, or the fp64 exponential race) with Philox uniforms, optional
// nucleus filtering, and argmax; parallel over rows. Drawn ids scattered into sequences.
public sealed unsafe partial class CpuKernels
{
    private readonly SamplingJob _sampling = new();
    private double[]? _drawScratch;

    /// <summary>Entries per block of the inverse CDF's search (<see cref="SamplingJob"/>).</summary>
    private const int SearchBlock = 512;

    /// <inheritdoc/>
    public void SampleCategorical(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters)
    {
        OpChecks.Sampling(logits, ids, rows, classes, vocab, parameters);
        RunSampling(logits, ids, rows, classes, vocab, parameters, argmax: false);
    }

    /// <inheritdoc/>
    public void Argmax(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab)
    {
        OpChecks.Sampling(logits, ids, rows, classes, vocab);
        RunSampling(logits, ids, rows, classes, vocab, default, argmax: true);
    }

    /// <inheritdoc/>
    public void ScatterIds(Tensor<int> ids, Tensor<int> rows, Tensor<int> target, int count, int targetCount, int limit, int replacement)
    {
        OpChecks.ScatterIds(ids, rows, target, count, targetCount, limit, replacement);
        CheckIds(rows, count, targetCount, -1, nameof(rows));
        var rowSpan = rows.AsSpan()[..count];
        CheckDistinct(rowSpan, targetCount, nameof(rows));
        var from = ids.AsSpan();
        var to = target.AsSpan();
        for (int j = 0; j < count; j++)
            to[rowSpan[j]] = (uint)from[j] < (uint)limit ? from[j] : replacement;
    }

    private void RunSampling(Tensor<float> logits, Tensor<int> ids, int rows, int classes, int vocab, in SamplingParameters parameters,
        bool argmax)
    {
        var job = _sampling;
        job.Logits = logits.Pointer();
        job.Ids = ids.Pointer();
        job.Classes = classes;
        job.Vocab = vocab;
        job.Parameters = parameters;
        job.IsArgmax = argmax;
        // A row of doubles per chunk: the nucleus cut's sorted values, then the inverse CDF's masses.
        bool scratch = !argmax && (parameters.TopP < 1f || parameters.Draw == CategoricalDraw.InverseCdf);
        int chunks = ChunkedJob.ChunkCount(rows, 1, _pool.Threads);
        if (scratch && (_drawScratch is null || _drawScratch.Length < (long)chunks * vocab))
            _drawScratch = new double[(long)chunks * vocab];
        job.Scratch = scratch ? _drawScratch : null;
        job.Run(_pool, rows, 1);
    }

    private sealed class SamplingJob : ChunkedJob
    {
        public float* Logits;
        public int* Ids;
        public int Classes, Vocab;
        public SamplingParameters Parameters;
        public bool IsArgmax;
        public double[]? Scratch;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            for (int r = start; r < end; r++)
            {
                var row = new ReadOnlySpan<float>(Logits + (long)r * Classes, Vocab);
                Ids[r] = IsArgmax ? TensorPrimitives.IndexOfMax(row) : Draw(row, r, chunk);
            }
        }

        private int Draw(ReadOnlySpan<float> row, int r, int chunk)
        {
            double inverseTemperature = 1.0 / Parameters.Temperature;
            double threshold = Parameters.TopP < 1f ? NucleusThreshold(row, inverseTemperature, chunk) : double.NegativeInfinity;
            return Parameters.Draw == CategoricalDraw.InverseCdf
                ? InverseCdf(row, r, chunk, inverseTemperature, threshold)
                : Race(row, r, inverseTemperature, threshold);
        }

        /// <summary>The first entry whose running mass exceeds U·Σ (see <see cref="IKernels.SampleCategorical"/>).</summary>
        private int InverseCdf(ReadOnlySpan<float> row, int r, int chunk, double inverseTemperature, double threshold)
        {
            var mass = Scratch.AsSpan(chunk * Vocab, Vocab);
            TensorPrimitives.ConvertChecked(row, mass);
            TensorPrimitives.Multiply(mass, inverseTemperature, mass);
            double max = TensorPrimitives.Max(mass);
            if (threshold > double.NegativeInfinity)
            {
                for (int v = 0; v < mass.Length; v++)
                    if (mass[v] < threshold) mass[v] = double.NegativeInfinity;
            }
            TensorPrimitives.Subtract(mass, max, mass);
            TensorPrimitives.Exp(mass, mass);
            double total = TensorPrimitives.Sum(mass);
            if (!(total > 0)) return -1; // a NaN or +∞ logit, or none finite
            double target = Philox.UniformDouble(Parameters.Seed, Parameters.Step, Parameters.FirstRow + r) * total;
            // Whole blocks whose mass keeps the running sum at or below the target are passed with one vectorized sum each,
            // then one block is walked entry by entry: a walk from the row's start would differ only in rounding, and its
            // chain of dependent additions was most of the draw's time.
            double running = 0;
            int start = 0;
            for (; start + SearchBlock < mass.Length; start += SearchBlock)
            {
                double block = TensorPrimitives.Sum(mass.Slice(start, SearchBlock));
                if (running + block > target) break;
                running += block;
            }
            for (int v = start; v < mass.Length; v++)
            {
                running += mass[v];
                if (mass[v] > 0 && running > target) return v;
            }
            // Rounding left U·Σ just past the walked mass: the last entry with mass (the row's maximum has mass 1).
            int last = mass.Length - 1;
            while (mass[last] == 0) last--;
            return last;
        }

        /// <summary>The exponential race's winner (see <see cref="IKernels.SampleCategorical"/>).</summary>
        private int Race(ReadOnlySpan<float> row, int r, double inverseTemperature, double threshold)
        {
            long first = (Parameters.FirstRow + r) * Vocab;
            int best = -1;
            double bestScore = double.NegativeInfinity;
            for (int v = 0; v < row.Length; v++)
            {
                double logit = row[v] * inverseTemperature;
                if (logit < threshold) continue;
                double u = Philox.UniformDouble(Parameters.Seed, Parameters.Step, first + v);
                double score = logit - Math.Log(-Math.Log(u + 1e-10) + 1e-10);
                if (score > bestScore)
                {
                    bestScore = score;
                    best = v;
                }
            }
            return best;
        }

        /// <summary>
        /// The scaled logit of the smallest nucleus member: entries at or above it hold probability ≥ topP,
        /// and no higher cut does (ties at the cut are all kept).
        /// </summary>
        private double NucleusThreshold(ReadOnlySpan<float> row, double inverseTemperature, int chunk)
        {
            var scaled = Scratch.AsSpan(chunk * Vocab, Vocab);
            double max = double.NegativeInfinity, sum = 0;
            for (int v = 0; v < row.Length; v++) max = Math.Max(max, scaled[v] = row[v] * inverseTemperature);
            for (int v = 0; v < row.Length; v++) sum += Math.Exp(scaled[v] - max);
            scaled.Sort();
            double mass = 0, target = Parameters.TopP * sum;
            for (int i = scaled.Length - 1; i >= 0; i--)
            {
                mass += Math.Exp(scaled[i] - max);
                if (mass >= target) return scaled[i];
            }
            return scaled[0];
        }
    }
}
