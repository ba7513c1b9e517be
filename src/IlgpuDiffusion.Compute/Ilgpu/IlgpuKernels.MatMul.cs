using ILGPU;
using ILGPU.Runtime;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;

namespace IlgpuDiffusion.Ilgpu;

// GEMM and Linear. Device code: MatMulKernels (Kernels/MatMulKernels.cs); the bias gradient is a column
// reduction (IlgpuKernels.Columns.cs).
internal sealed partial class IlgpuKernels
{
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>?
        _gemm;

    /// <inheritdoc/>
    public void MatMul(MatMulLayout layout, Tensor<float> a, Tensor<float> b, Tensor<float> c, int m, int n, int k, bool accumulate)
    {
        OpChecks.MatMul(a, b, c, m, n, k);
        var cView = c.View();
        Gemm(layout, a, b, cView, cView, hasBias: false, m, n, k, accumulate);
    }

    /// <inheritdoc/>
    /// <remarks>Under bf16 on tensor cores, the BF16 copy the products read; else 0.</remarks>
    public long InputCopyLength(int rows, int channels)
    {
        Check.Sizes(true, rows, channels);
        return _tensorCores?.KeptCopyWords(rows, channels) ?? 0;
    }

    /// <inheritdoc/>
    public void LinearForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float> output,
        int rows, int inChannels, int outChannels, Tensor<float>? inputCopy = null, bool inputCopyMade = false)
    {
        OpChecks.LinearForward(input, weight, bias, output, rows, inChannels, outChannels);
        var outputView = output.View();
        Gemm(MatMulLayout.ABt, input, weight, bias?.View() ?? outputView, outputView, bias is not null,
            rows, outChannels, inChannels, accumulate: false, keptA: KeptInput(inputCopy, rows, inChannels, inputCopyMade));
    }

    /// <inheritdoc/>
    /// <remarks>
    /// On tensor cores the GEMM's epilogue (or its split-K reduction) applies the GELU, writing the activation's BF16 copy
    /// where one is given; else two kernels.
    /// </remarks>
    public void LinearGeluForward(Tensor<float> input, Tensor<float> weight, Tensor<float>? bias, Tensor<float>? preActivation,
        Tensor<float> activation, int rows, int inChannels, int outChannels, Tensor<float>? inputCopy = null,
        Tensor<float>? activationCopy = null)
    {
        Check.Count(activation, (long)rows * outChannels, nameof(activation));
        var product = preActivation ?? activation;
        OpChecks.LinearForward(input, weight, bias, product, rows, inChannels, outChannels);
        if (_tensorCores is null || inChannels == 0 || rows == 0 || outChannels == 0)
        {
            LinearForward(input, weight, bias, product, rows, inChannels, outChannels, inputCopy);
            GeluForward(product, activation, HostChecks.Product(rows, outChannels));
            return;
        }
        var productView = product.View();
        Gemm(MatMulLayout.ABt, input, weight, bias?.View() ?? productView, productView, bias is not null, rows, outChannels, inChannels,
            accumulate: false, activation.View(), preActivation is null ? GemmEpilogue.GeluOnly : GemmEpilogue.ProductAndGelu,
            keptA: KeptInput(inputCopy, rows, inChannels, made: false),
            activationCopy: KeptInput(activationCopy, rows, outChannels, made: false).View);
    }

    /// <inheritdoc/>
    public void LinearBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> weight,
        Tensor<float>? dInput, Tensor<float>? dWeight, Tensor<float>? dBias,
        int rows, int inChannels, int outChannels, bool accumulateInput = true, Tensor<float>? inputCopy = null)
    {
        OpChecks.LinearBackward(dOutput, input, weight, dInput, dWeight, dBias, rows, inChannels, outChannels);

        // dInput[rows, in] (+)= dOutput[rows, out]·weight[out, in]
        if (dInput is { } dInputTensor)
        {
            var view = dInputTensor.View();
            Gemm(MatMulLayout.AB, dOutput, weight, view, view, hasBias: false, rows, inChannels, outChannels, accumulateInput);
        }
        ParameterGradients(dOutput, input, dWeight, dBias, rows, inChannels, outChannels, dOutputRead: dInput is not null,
            KeptInput(inputCopy, rows, inChannels, made: true));
    }

    /// <summary>
    /// A linear layer's dWeight [out, in] += dOutput [rows, out]ᵀ·input [rows, in] and dBias [out] += Σ_rows dOutput.
    /// </summary>
    /// <param name="dOutputRead">Whether the last product read <paramref name="dOutput"/> as its op(a) (the input gradient's
    /// dOutput·weight), so that a BF16 copy it took serves the weight gradient too.</param>
    /// <param name="inputCopy">The copy of the input its forward kept, or none.</param>
    private void ParameterGradients(Tensor<float> dOutput, Tensor<float> input, Tensor<float>? dWeight, Tensor<float>? dBias,
        int rows, int inChannels, int outChannels, bool dOutputRead, KeptCopy inputCopy)
    {
        if (dWeight is { } dWeightTensor)
        {
            var view = dWeightTensor.View();
            Gemm(MatMulLayout.AtB, dOutput, input, view, view, hasBias: false, outChannels, inChannels, rows, accumulate: true,
                aUnchanged: dOutputRead, keptB: inputCopy);
        }
        if (dBias is { } dBiasTensor)
        {
            var dy = dOutput.View();
            ColumnReduce(ColumnTerm.X, dy, dy, dy, dy, dBiasTensor.View(), batch: 1, rows, outChannels);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// On tensor cores the input gradient's GEMM epilogue (or its split-K reduction) applies GELU'; else two kernels. Given the
    /// activation's kept copy, its weight gradient reads that, and the activation is not computed.
    /// </remarks>
    public void GeluLinearBackward(Tensor<float> dOutput, Tensor<float> activation, Tensor<float> preActivation, Tensor<float> weight,
        Tensor<float> dPreActivation, Tensor<float>? dWeight, Tensor<float>? dBias, int rows, int inChannels, int outChannels,
        Tensor<float>? activationCopy = null)
    {
        Check.Count(preActivation, (long)rows * inChannels, nameof(preActivation));
        var kept = KeptInput(activationCopy, rows, inChannels, made: true);
        if (activationCopy is not null && dWeight is not null && !kept.Given)
            GeluForward(preActivation, activation, HostChecks.Product(rows, inChannels));
        if (_tensorCores is null || outChannels == 0 || rows == 0 || inChannels == 0)
        {
            LinearBackward(dOutput, activation, weight, dPreActivation, dWeight, dBias, rows, inChannels, outChannels,
                accumulateInput: false);
            GeluBackward(dPreActivation, preActivation, dPreActivation, HostChecks.Product(rows, inChannels), accumulate: false);
            return;
        }
        OpChecks.LinearBackward(dOutput, activation, weight, dPreActivation, dWeight, dBias, rows, inChannels, outChannels);
        var view = dPreActivation.View();
        Gemm(MatMulLayout.AB, dOutput, weight, view, view, hasBias: false, rows, inChannels, outChannels, accumulate: false,
            preActivation.View(), GemmEpilogue.GeluGradient);
        ParameterGradients(dOutput, activation, dWeight, dBias, rows, inChannels, outChannels, dOutputRead: true, kept);
    }

    /// <summary>
    /// A caller's copy of a linear layer's input [rows, channels] as the tensor cores keep it, checked to hold the copy;
    /// none where the caller gave none or the device keeps none (<see cref="InputCopyLength"/> 0).
    /// </summary>
    private KeptCopy KeptInput(Tensor<float>? copy, int rows, int channels, bool made)
    {
        long words = copy is null ? 0 : InputCopyLength(rows, channels);
        if (words == 0) return default;
        var tensor = copy!.Value;
        Check.Count(tensor, words, "inputCopy");
        return new KeptCopy(tensor.View(), made);
    }

    /// <summary>
    /// c [m, n] = op(a)·op(b) (+ c when accumulating) (+ bias[col] when hasBias); shapes already checked. On tensor cores when
    /// the device's precision is TF32 or BF16, else (and for k = 0) the fp32 SIMT kernel.
    /// </summary>
    /// <param name="activation">With a GELU <paramref name="epilogue"/> (tensor cores only), where GELU(c) goes, or for
    /// <see cref="GemmEpilogue.GeluGradient"/> the pre-activations whose GELU' multiplies c.</param>
    /// <param name="aUnchanged">Nothing wrote <paramref name="a"/> since the tensor cores' last product (see
    /// <see cref="TensorCoreGemm.Run"/>).</param>
    /// <param name="keptA">A kept copy of op(a) (tensor cores only; see <see cref="TensorCoreGemm.Run"/>).</param>
    /// <param name="keptB">A kept copy of op(b).</param>
    /// <param name="activationCopy">Where a GELU epilogue writes its results' BF16 copy (tensor cores only).</param>
    private void Gemm(MatMulLayout layout, Tensor<float> a, Tensor<float> b, ArrayView<float> bias, ArrayView<float> c,
        bool hasBias, int m, int n, int k, bool accumulate, ArrayView<float> activation = default,
        GemmEpilogue epilogue = GemmEpilogue.Product, bool aUnchanged = false, KeptCopy keptA = default, KeptCopy keptB = default,
        ArrayView<float> activationCopy = default)
    {
        if (m == 0 || n == 0) return;
        HostChecks.Product(m, Math.Max(n, k));
        HostChecks.Product(n, k);
        var (aRow, aK, bK, bCol) = layout switch
        {
            MatMulLayout.ABt => (k, 1, 1, k),
            MatMulLayout.AB => (k, 1, n, 1),
            MatMulLayout.AtB => (1, m, n, 1),
            _ => throw new ArgumentOutOfRangeException(nameof(layout), $"Unknown layout {layout}."),
        };
        if (_tensorCores is not null && k > 0)
        {
            _tensorCores.Run(a.View(), b.View(), bias, c, hasBias, m, n, k, (aRow, aK, bK, bCol), accumulate,
                epilogue == GemmEpilogue.Product ? c : activation, epilogue, aUnchanged, keptA, keptB, activationCopy);
            return;
        }
        var arguments = new GemmArguments(m, n, k, aRow, aK, bK, bCol,
            _plan.GemmTileMShift, _plan.GemmTileNShift, _plan.GemmTileKShift, accumulate ? 1 : 0, hasBias ? 1 : 0);
        _gemm ??= _accelerator.LoadCached(
            KernelRegistry.Checked<Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArguments>>(
                MatMulKernels.Gemm));
        _gemm(_stream, _plan.Gemm(m, n), a.View(), b.View(), bias, c, arguments);
    }
}
