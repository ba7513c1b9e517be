using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// GELU (tanh approximation) and SiLU, forward and backward. Each chunk works through
// blocks of at most ActivationBlock elements with stack scratch (vector math from
// TensorPrimitives: Vector512/256 with scalar tails).
public sealed unsafe partial class CpuKernels
{
    private const int ActivationBlock = 1024;

    /// <summary>√(2/π), the GELU tanh-approximation constant.</summary>
    internal const float GeluC = 0.7978845608028654f;

    /// <summary>The cubic coefficient of the GELU tanh approximation.</summary>
    internal const float GeluA = 0.044715f;

    private readonly ActivationJob _activation = new();

    /// <inheritdoc/>
    public void GeluForward(Tensor<float> input, Tensor<float> output, int count) =>
        RunActivation(ActivationKind.GeluForward, input, input, output, count, accumulate: false);

    /// <inheritdoc/>
    public void GeluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true) =>
        RunActivation(ActivationKind.GeluBackward, dOutput, input, dInput, count, accumulate);

    /// <inheritdoc/>
    public void SiluForward(Tensor<float> input, Tensor<float> output, int count) =>
        RunActivation(ActivationKind.SiluForward, input, input, output, count, accumulate: false);

    /// <inheritdoc/>
    public void SiluBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> dInput, int count, bool accumulate = true) =>
        RunActivation(ActivationKind.SiluBackward, dOutput, input, dInput, count, accumulate);

    /// <summary>result = the activation (or its backward) of input; a backward adds to result when <paramref name="accumulate"/>.</summary>
    private void RunActivation(ActivationKind kind, Tensor<float> first, Tensor<float> input, Tensor<float> result, int count,
        bool accumulate)
    {
        Check.Count(first, count, nameof(first));
        Check.Count(input, count, nameof(input));
        Check.Count(result, count, nameof(result));
        _activation.Kind = kind;
        _activation.Upstream = first.Pointer();
        _activation.Input = input.Pointer();
        _activation.Result = result.Pointer();
        _activation.Accumulate = accumulate;
        _activation.Run(_pool, count, StreamingGrain / 4);
    }

    private enum ActivationKind { GeluForward, GeluBackward, SiluForward, SiluBackward }

    private sealed class ActivationJob : ChunkedJob
    {
        public ActivationKind Kind;
        public float* Upstream, Input, Result;
        public bool Accumulate;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            Span<float> s1 = stackalloc float[ActivationBlock];
            Span<float> s2 = stackalloc float[ActivationBlock];
            Span<float> s3 = stackalloc float[ActivationBlock];
            for (int i = start; i < end; i += ActivationBlock)
            {
                int n = Math.Min(ActivationBlock, end - i);
                var x = new ReadOnlySpan<float>(Input + i, n);
                var dy = new ReadOnlySpan<float>(Upstream + i, n);
                var r = new Span<float>(Result + i, n);
                switch (Kind)
                {
                    case ActivationKind.GeluForward: GeluForward(x, r, s1[..n]); break;
                    case ActivationKind.GeluBackward: GeluBackward(dy, x, r, s1[..n], s2[..n], s3[..n], Accumulate); break;
                    case ActivationKind.SiluForward: SiluForward(x, r, s1[..n]); break;
                    default: SiluBackward(dy, x, r, s1[..n], s2[..n], Accumulate); break;
                }
            }
        }

        // y = 0.5·x·(1 + tanh(u)), u = c·(x + a·x³). y may alias x.
        private static void GeluForward(ReadOnlySpan<float> x, Span<float> y, Span<float> t)
        {
            TangentArgument(x, t);
            TensorPrimitives.Tanh(t, t);
            TensorPrimitives.MultiplyAdd(t, x, x, t);     // x·(1 + tanh u)
            TensorPrimitives.Multiply(t, 0.5f, y);
        }

        // dx (+)= dy·0.5·(1 + tanh u + x·u'·(1 − tanh²u)), u' = c·(1 + 3a·x²)
        private static void GeluBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx,
            Span<float> t, Span<float> s, Span<float> w, bool accumulate)
        {
            TangentArgument(x, t);
            TensorPrimitives.Tanh(t, t);                                   // t = tanh u
            TensorPrimitives.Multiply(x, x, s);
            TensorPrimitives.Multiply(s, 3f * GeluA * GeluC, s);
            TensorPrimitives.Add(s, GeluC, s);                             // s = u'
            TensorPrimitives.Multiply(s, x, s);                            // s = x·u'
            TensorPrimitives.Multiply(s, t, w);
            TensorPrimitives.Multiply(w, t, w);                            // w = x·u'·tanh²u
            TensorPrimitives.Subtract(s, w, s);                            // s = x·u'·(1 − tanh²u)
            TensorPrimitives.Add(t, s, t);
            TensorPrimitives.Add(t, 1f, t);
            TensorPrimitives.Multiply(t, 0.5f, t);
            Chain(t, dy, dx, accumulate);
        }

        // t = c·x·(1 + a·x²)
        private static void TangentArgument(ReadOnlySpan<float> x, Span<float> t)
        {
            TensorPrimitives.Multiply(x, x, t);
            TensorPrimitives.Multiply(t, GeluA * GeluC, t);
            TensorPrimitives.Add(t, GeluC, t);
            TensorPrimitives.Multiply(t, x, t);
        }

        // y = x·σ(x). y may alias x.
        private static void SiluForward(ReadOnlySpan<float> x, Span<float> y, Span<float> s)
        {
            TensorPrimitives.Sigmoid(x, s);
            TensorPrimitives.Multiply(x, s, y);
        }

        // dx (+)= dy·(σ + x·σ·(1 − σ))
        private static void SiluBackward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx, Span<float> s, Span<float> t,
            bool accumulate)
        {
            TensorPrimitives.Sigmoid(x, s);
            TensorPrimitives.Subtract(1f, s, t);       // 1 − σ
            TensorPrimitives.Multiply(t, x, t);        // x·(1 − σ)
            TensorPrimitives.MultiplyAdd(t, s, s, t);  // σ + x·σ·(1 − σ)
            Chain(t, dy, dx, accumulate);
        }

        // dx += derivative·dy, or dx = when not accumulating
        private static void Chain(ReadOnlySpan<float> derivative, ReadOnlySpan<float> dy, Span<float> dx, bool accumulate)
        {
            if (accumulate) TensorPrimitives.MultiplyAdd(derivative, dy, dx, dx);
            else TensorPrimitives.Multiply(derivative, dy, dx);
        }
    }
}
