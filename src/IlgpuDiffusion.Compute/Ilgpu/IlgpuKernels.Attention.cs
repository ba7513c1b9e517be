using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu.Kernels;
using ForwardLaunch = System.Action<ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;
using KeyValueLaunch = System.Action<ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;
using LoadedForward = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;
using LoadedKeyValue = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;
using LoadedQuery = System.Action<ILGPU.Runtime.AcceleratorStream, ILGPU.KernelConfig, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int, IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;
using QueryLaunch = System.Action<ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;
using TensorCoreKeyValueLaunch = System.Action<ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>,
    ILGPU.ArrayView<float>, int, IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;
using TensorCoreQueryLaunch = System.Action<ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, ILGPU.ArrayView<float>, int,
    IlgpuDiffusion.Ilgpu.Kernels.AttentionArguments>;

namespace IlgpuDiffusion.Ilgpu;

// Multi-head attention: forward, backward and the KV-cached decoding step. Device code: AttentionKernels
// (forward, cache append, row dot) and AttentionBackwardKernels (key/value and query passes) on SIMT cores;
// TensorCoreAttentionKernels (tf32) or TensorCoreAttentionBf16Kernels (bf16) and TensorCoreAttentionBackwardKernels on
// tensor cores (heads of up to 64 columns, multiples of 8; a kernel each for heads of 64 and for narrower ones);
// TensorCoreWideAttentionKernels and TensorCoreWideAttentionBf16Kernels the forward (and decode step) of heads of 72 to 128
// columns on tensor cores, and their backward too (KeyValueWide and QueryWide of TensorCoreAttentionBackwardKernels and
// TensorCoreAttentionBf16BackwardKernels) where the GPU grants its key pass's shared memory. Other heads when the GEMMs run
// on tensor cores, and the backward of wide heads where the GPU refuses, run over materialized scores
// (IlgpuKernels.ScoreAttention.cs), but for the decode step of heads neither kernel takes, which keeps the SIMT kernels.
internal sealed partial class IlgpuKernels
{
    /// <summary>Largest head size the attention kernels take (the tiles must fit 48 KB of shared memory).</summary>
    public const int MaxAttentionHeadDim = 128;

    private LoadedForward? _attentionForward;

    // The tensor-core kernels of the device's precision: [0] for heads of 64, [1] for narrower heads, [WideHeads] (the
    // backward passes only) for heads of 72 to 128.
    private const int WideHeads = 2;
    private readonly LoadedForward?[] _tensorCoreAttentionForward = new LoadedForward?[2];
    private readonly LoadedKeyValue?[] _tensorCoreAttentionKeyValue = new LoadedKeyValue?[3];
    private readonly LoadedQuery?[] _tensorCoreAttentionQuery = new LoadedQuery?[3];
    private bool _wideBackwardRefused;
    private LoadedForward? _pipelinedForward;
    private LoadedKeyValue? _pipelinedKeyValue;
    private LoadedQuery? _pipelinedQuery;
    private bool? _pipelinedAttention;
    private bool? _tf32KeyBlocks;
    private LoadedForward? _tensorCoreWideForward;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int>?
        _appendToCache;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>? _rowDot;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionArguments>? _attentionKeyValue;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
        ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionArguments>? _attentionQuery;
    private MemoryBuffer1D<float, Stride1D.Dense>? _rowDotScratch, _scoreScratch;

    /// <inheritdoc/>
    public void AttentionForward(Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        int batch, int tokens, int heads, int headDim, bool causal)
    {
        CheckAttention(qkv, output, batch, tokens, heads, headDim);
        Check.Count(logSumExp, (long)batch * heads * tokens, nameof(logSumExp));
        if (batch == 0 || tokens == 0) return;
        if (AttentionOverScores(headDim) && !WideHeadFragments.Fits(headDim))
        {
            ScoreAttentionForward(qkv.View(), output.View(), logSumExp.View(), batch, tokens, heads, headDim, causal);
            return;
        }
        int row = 3 * heads * headDim;
        var arguments = Arguments(AttentionPass.Forward, heads, headDim, tokens, tokens, 0, causal, tokens * row, row,
            tokens * row, headDim, row, out var tiles);
        var (q, k, v) = Slots(qkv.View(), heads * headDim);
        LaunchForward(arguments, tiles, batch * heads, q, k, v, output.View(), logSumExp.View());
    }

    /// <inheritdoc/>
    public void AttentionWithCacheForward(Tensor<float> qkv, Tensor<float> kCache, Tensor<float> vCache, Tensor<float> output,
        int batch, int newTokens, int heads, int headDim, int position, int capacity)
    {
        OpChecks.AttentionWithCache(qkv, kCache, vCache, output, batch, newTokens, heads, headDim, position, capacity);
        CheckHeadSize(headDim);
        HostChecks.Product((long)batch * newTokens, 3L * heads, headDim);
        HostChecks.Product(batch, heads, (long)capacity * headDim);
        if (batch == 0 || newTokens == 0) return;
        var qkvView = qkv.View();
        var (kView, vView) = (kCache.View(), vCache.View());
        _appendToCache ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int, int, int>>(
                AttentionKernels.AppendToCache));
        _appendToCache(_stream, batch * newTokens * heads * headDim, qkvView, kView, vView, newTokens, heads, headDim, position, capacity);

        int row = 3 * heads * headDim;
        var arguments = Arguments(AttentionPass.Forward, heads, headDim, newTokens, position + newTokens, position, causal: true,
            newTokens * row, row, heads * capacity * headDim, capacity * headDim, headDim, out var tiles) with
        { WriteLogSumExp = 0 };
        var outputView = output.View();
        LaunchForward(arguments, tiles, batch * heads, qkvView, kView, vView, outputView, outputView);
    }

    /// <inheritdoc/>
    public void AttentionBackward(Tensor<float> dOutput, Tensor<float> qkv, Tensor<float> output, Tensor<float> logSumExp,
        Tensor<float> dQkv, int batch, int tokens, int heads, int headDim, bool causal, bool accumulate = true)
    {
        CheckAttention(qkv, output, batch, tokens, heads, headDim);
        Check.Count(dOutput, (long)batch * tokens * heads * headDim, nameof(dOutput));
        Check.Count(logSumExp, (long)batch * heads * tokens, nameof(logSumExp));
        Check.Count(dQkv, (long)batch * tokens * 3 * heads * headDim, nameof(dQkv));
        if (batch == 0 || tokens == 0) return;
        int rows = batch * heads * tokens;
        var rowDot = Scratch(ref _rowDotScratch, rows);
        var (dy, y, lse) = (dOutput.View(), output.View(), logSumExp.View());
        _rowDot ??= _accelerator.LoadCachedAutoGrouped(
            KernelRegistry.Checked<Action<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int, int>>(
                AttentionKernels.RowDot));
        _rowDot(_stream, rows, dy, y, rowDot, tokens, heads, headDim);
        bool wideFlash = WideFlashBackward(headDim);
        if (AttentionOverScores(headDim) && !wideFlash)
        {
            ScoreAttentionBackward(dy, qkv.View(), lse, rowDot, dQkv.View(), batch, tokens, heads, headDim, causal, accumulate);
            return;
        }

        int row = 3 * heads * headDim;
        var (q, k, v) = Slots(qkv.View(), heads * headDim);
        var (dq, dk, dv) = Slots(dQkv.View(), heads * headDim);
        var keyValue = Arguments(AttentionPass.KeyValue, heads, headDim, tokens, tokens, 0, causal,
            tokens * row, row, tokens * row, headDim, row, out var keyTiles, accumulate);
        var query = Arguments(AttentionPass.Query, heads, headDim, tokens, tokens, 0, causal,
            tokens * row, row, tokens * row, headDim, row, out var queryTiles, accumulate);
        if (AttentionOnTensorCores(headDim) || wideFlash)
        {
            TensorCoreBackward(q, k, v, dy, lse, rowDot, dq, dk, dv, keyValue, batch * heads);
            return;
        }
        _attentionKeyValue ??= _accelerator.LoadCached(
            KernelRegistry.Checked<KeyValueLaunch>(AttentionBackwardKernels.KeyValue));
        _attentionKeyValue(_stream, keyTiles.Config(LaunchPlan.Ceil(tokens, keyTiles.TileK), batch * heads, _plan.AttentionGroup),
            q, k, v, dy, lse, rowDot, dk, dv, keyValue);
        _attentionQuery ??= _accelerator.LoadCached(KernelRegistry.Checked<QueryLaunch>(AttentionBackwardKernels.Query));
        _attentionQuery(_stream, queryTiles.Config(LaunchPlan.Ceil(tokens, queryTiles.TileQ), batch * heads, _plan.AttentionGroup),
            q, k, v, dy, lse, rowDot, dq, query);
    }

    /// <summary>
    /// The backward on tensor cores (BF16 products under the bf16 precision, TF32 under tf32): the key pass leaves dSᵀ in a
    /// scratch that the query pass multiplies by k, for as
    /// many heads at a time as <see cref="LaunchPlan.ScoreScratchFloats"/> allows (the two launches of a round queue
    /// behind the previous round's, so the scratch is reused safely).
    /// </summary>
    private void TensorCoreBackward(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dq, ArrayView<float> dk, ArrayView<float> dv,
        AttentionArguments arguments, int batchHeads)
    {
        arguments = WithVectorRows(arguments, q, k, v);
        if (!ViewAlignment.On16Bytes(dOutput)) arguments = arguments with { VectorRows = 0 }; // dO's rows: heads·HeadDim apart
        int stride = TensorCoreAttentionBackwardKernels.ScoreStride(arguments.Keys);
        bool bf16 = _precision == MatMulPrecision.Bf16;
        int headClass = WideHeadFragments.Fits(arguments.HeadDim) ? WideHeads : HeadClass(arguments.HeadDim);
        // The BF16 passes keep dSᵀ as BF16 pairs of queries: half the words of a TF32 scratch per head.
        int perHead = HostChecks.Product(stride, bf16 ? stride / 2 : stride);
        int headsPerRound = PairsPerRound(perHead, batchHeads, scratches: 1);
        var scratch = Scratch(ref _scoreScratch, (long)headsPerRound * perHead);
        // Heads of 64: the BF16 passes own 64 keys or queries with 4 warps, the TF32 dq pass 64 queries, and the TF32 key pass
        // 64 keys where the GPU grants its shared memory; the rest 32 with 2.
        bool tf32KeyBlocks = !bf16 && headClass == 0 && Tf32KeyBlocks();
        var (keyRows, keyThreads) = bf16 && headClass == 0
            ? (TensorCoreAttentionBf16BackwardKernels.BlockRows, TensorCoreAttentionBf16BackwardKernels.BlockThreads)
            : tf32KeyBlocks
                ? (TensorCoreAttentionBackwardKernels.KeyBlock, TensorCoreAttentionBackwardKernels.KeyBlockThreads)
                : (TensorCoreAttentionBackwardKernels.Tile, TensorCoreAttentionBackwardKernels.Threads);
        var (queryRows, queryThreads) = headClass == 0
            ? (TensorCoreAttentionBackwardKernels.QueryBlock, TensorCoreAttentionBackwardKernels.QueryThreads)
            : (TensorCoreAttentionBackwardKernels.Tile, TensorCoreAttentionBackwardKernels.Threads);
        var keyValueShared = SharedMemoryConfig.RequestDynamic<float>((headClass == WideHeads, bf16) switch
        {
            (true, true) => TensorCoreAttentionBf16BackwardKernels.WideSharedFloats,
            (true, false) => TensorCoreAttentionBackwardKernels.WideKeyValueSharedFloats,
            (false, true) => TensorCoreAttentionBf16BackwardKernels.SharedFloats,
            (false, false) => tf32KeyBlocks
                ? TensorCoreAttentionBackwardKernels.KeyBlockSharedFloats
                : TensorCoreAttentionBackwardKernels.KeyValueSharedFloats,
        });
        var queryShared = SharedMemoryConfig.RequestDynamic<float>((headClass == WideHeads, bf16) switch
        {
            (true, true) => TensorCoreAttentionBf16BackwardKernels.WideQuerySharedFloats,
            (true, false) => TensorCoreAttentionBackwardKernels.WideQuerySharedFloats,
            (false, true) => TensorCoreAttentionBf16BackwardKernels.QuerySharedFloats,
            (false, false) => headClass == 0
                ? TensorCoreAttentionBackwardKernels.QuerySharedFloats
                : TensorCoreAttentionBackwardKernels.NarrowQuerySharedFloats,
        });
        // A wide head's key pass is loaded, and opted in to its shared memory, by WideFlashBackward; the TF32 key pass in
        // blocks of 64 keys by Tf32KeyBlocks.
        var keyValueKernel = TensorCoreKernel<TensorCoreKeyValueLaunch>(headClass, TensorCoreAttentionBackwardKernels.KeyValue,
            TensorCoreAttentionBackwardKernels.KeyValueNarrowHeads, TensorCoreAttentionBf16BackwardKernels.KeyValue,
            TensorCoreAttentionBf16BackwardKernels.KeyValueNarrowHeads);
        var keyValuePass = _tensorCoreAttentionKeyValue[headClass] ??= _accelerator.LoadCached(keyValueKernel,
            GemmBounds(keyValueKernel));
        var queryPass = _tensorCoreAttentionQuery[headClass] ??= _accelerator.LoadCached(headClass == WideHeads
            ? KernelRegistry.Checked<TensorCoreQueryLaunch>(bf16
                ? TensorCoreAttentionBf16BackwardKernels.QueryWide
                : TensorCoreAttentionBackwardKernels.QueryWide)
            : TensorCoreKernel<TensorCoreQueryLaunch>(headClass, TensorCoreAttentionBackwardKernels.Query,
                TensorCoreAttentionBackwardKernels.QueryNarrowHeads, TensorCoreAttentionBf16BackwardKernels.Query,
                TensorCoreAttentionBf16BackwardKernels.QueryNarrowHeads));
        if (bf16 && headClass == 0 && arguments.VectorRows != 0 && PipelinedAttention())
        {
            (keyValuePass, queryPass) = (_pipelinedKeyValue!, _pipelinedQuery!);
            keyValueShared = SharedMemoryConfig.RequestDynamic<float>(TensorCoreAttentionBf16BackwardKernels.PipelinedSharedFloats);
            queryShared = SharedMemoryConfig.RequestDynamic<float>(TensorCoreAttentionBf16BackwardKernels.PipelinedQuerySharedFloats);
            if (_accelerator is CudaAccelerator)
                arguments = arguments with
                {
                    QAddress = TensorCoreGemm.Address(q),
                    KAddress = TensorCoreGemm.Address(k),
                    OutputGradientAddress = TensorCoreGemm.Address(dOutput),
                    LogSumExpAddress = TensorCoreGemm.Address(logSumExp),
                    RowDotAddress = TensorCoreGemm.Address(rowDot),
                    ScoreGradientAddress = TensorCoreGemm.Address(scratch),
                };
        }
        for (int first = 0; first < batchHeads; first += headsPerRound)
        {
            int heads = LaunchPlan.GridYZ(Math.Min(headsPerRound, batchHeads - first), "batch·heads");
            keyValuePass(_stream, new KernelConfig(new Index2D(LaunchPlan.Ceil(arguments.Keys, keyRows), heads),
                new Index2D(keyThreads, 1), keyValueShared), q, k, v, dOutput, logSumExp, rowDot, dk, dv, scratch, first, arguments);
            queryPass(_stream, new KernelConfig(new Index2D(LaunchPlan.Ceil(arguments.Keys, queryRows), heads),
                new Index2D(queryThreads, 1), queryShared), k, scratch, dq, first, arguments);
        }
    }

    /// <summary>
    /// Whether attention runs on tensor cores: when the GEMMs do (TF32 or BF16, in the same precision) and the head fits
    /// those kernels' 64 columns (<see cref="AttentionFragments.Fits"/>).
    /// </summary>
    private bool AttentionOnTensorCores(int headDim) => _tensorCores is not null && AttentionFragments.Fits(headDim);

    /// <summary>
    /// Whether the backward of a head of <paramref name="headDim"/> columns runs on the flash kernels for wide heads: heads of
    /// 72 to 128 where the GPU lets the key pass of the device's precision opt in to its shared memory (70.8 KB under tf32,
    /// 34.3 KB under bf16). The key pass is loaded and opted in on the first such head; a refusal holds for the device's
    /// lifetime.
    /// </summary>
    internal bool WideFlashBackward(int headDim)
    {
        if (_tensorCores is null || !WideHeadFragments.Fits(headDim) || _wideBackwardRefused) return false;
        if (_tensorCoreAttentionKeyValue[WideHeads] is not null) return true;
        bool bf16 = _precision == MatMulPrecision.Bf16;
        int bytes = bf16
            ? TensorCoreAttentionBf16BackwardKernels.WideSharedBytes
            : TensorCoreAttentionBackwardKernels.WideKeyValueSharedBytes;
        if (SharedMemoryOptIn.Fits(_accelerator, bytes))
        {
            var keyValue = _accelerator.LoadCached(KernelRegistry.Checked<TensorCoreKeyValueLaunch>(bf16
                ? TensorCoreAttentionBf16BackwardKernels.KeyValueWide
                : TensorCoreAttentionBackwardKernels.KeyValueWide));
            if (SharedMemoryOptIn.Allow(keyValue.GetKernel(), bytes))
            {
                _tensorCoreAttentionKeyValue[WideHeads] = keyValue;
                return true;
            }
        }
        _wideBackwardRefused = true;
        return false;
    }

    /// <summary>
    /// Whether the TF32 backward of heads of 64 runs its key pass in blocks of 64 keys
    /// (<see cref="TensorCoreAttentionBackwardKernels.KeyValueBlock"/>): unless the device's choices say no, where the GPU
    /// lets it opt in to 69.3 KB of shared memory. Decided, and the kernel loaded and opted in, on the first such backward;
    /// elsewhere the key pass in blocks of 32 runs. False on a device of another precision.
    /// </summary>
    internal bool Tf32KeyBlocks()
    {
        if (_precision != MatMulPrecision.Tf32) return false;
        if (_tf32KeyBlocks is { } decided) return decided;
        const int bytes = TensorCoreAttentionBackwardKernels.KeyBlockSharedBytes;
        bool granted = _tf32KeyBlocksAllowed && SharedMemoryOptIn.Fits(_accelerator, bytes);
        if (granted)
        {
            var keyValue = _accelerator.LoadCached(
                KernelRegistry.Checked<TensorCoreKeyValueLaunch>(TensorCoreAttentionBackwardKernels.KeyValueBlock));
            granted = SharedMemoryOptIn.Allow(keyValue.GetKernel(), bytes);
            if (granted) _tensorCoreAttentionKeyValue[0] = keyValue;
        }
        _tf32KeyBlocks = granted;
        return granted;
    }

    /// <summary>
    /// Whether the BF16 attention of heads of 64 copies its tiles through cp.async: the forward its key tiles
    /// (<see cref="TensorCoreAttentionBf16Kernels.ForwardPipelined"/>), the backward's key pass its query tiles
    /// (<see cref="TensorCoreAttentionBf16BackwardKernels.KeyValuePipelined"/>) and its dq pass its key tiles
    /// (<see cref="TensorCoreAttentionBf16BackwardKernels.QueryPipelined"/>), where the device's choices say so and the GPU
    /// lets the forward opt in to its 52 KB of shared memory. Decided, and the kernels loaded (on CUDA from their rewritten
    /// PTX) and the forward opted in, on the first such forward or backward; elsewhere the kernels that stage through
    /// registers run. False on a device of another precision.
    /// </summary>
    internal bool PipelinedAttention()
    {
        if (_precision != MatMulPrecision.Bf16) return false;
        if (_pipelinedAttention is { } decided) return decided;
        const int bytes = TensorCoreAttentionBf16Kernels.PipelinedSharedFloats * sizeof(float);
        bool granted = _pipelinedAttentionAllowed && SharedMemoryOptIn.Fits(_accelerator, bytes);
        if (granted)
        {
            var forward = _accelerator.LoadCached(KernelRegistry.Checked<ForwardLaunch>(TensorCoreAttentionBf16Kernels.ForwardPipelined),
                GemmBounds(TensorCoreAttentionBf16Kernels.ForwardPipelined));
            granted = SharedMemoryOptIn.Allow(forward.GetKernel(), bytes);
            if (granted)
            {
                _pipelinedForward = forward;
                _pipelinedKeyValue = _accelerator.LoadCached(
                    KernelRegistry.Checked<TensorCoreKeyValueLaunch>(TensorCoreAttentionBf16BackwardKernels.KeyValuePipelined),
                    GemmBounds(TensorCoreAttentionBf16BackwardKernels.KeyValuePipelined));
                _pipelinedQuery = _accelerator.LoadCached(
                    KernelRegistry.Checked<TensorCoreQueryLaunch>(TensorCoreAttentionBf16BackwardKernels.QueryPipelined),
                    GemmBounds(TensorCoreAttentionBf16BackwardKernels.QueryPipelined));
            }
        }
        _pipelinedAttention = granted;
        return granted;
    }

    /// <summary>The launch bounds a tensor-core attention kernel loads with: its registration's where the GEMMs take theirs.</summary>
    private KernelSpecialization GemmBounds(Delegate kernel) =>
        GemmLaunchBounds ? KernelRegistry.Specialization(kernel.Method) : KernelSpecialization.Empty;

    /// <summary>Which tensor-core kernels a head takes: 0, those for heads of 64; 1, the variants for narrower heads.</summary>
    private static int HeadClass(int headDim) => headDim < AttentionFragments.HeadWidth ? 1 : 0;

    /// <summary>Of a tensor-core kernel's four versions, the one for the device's precision and the head class.</summary>
    private TLaunch TensorCoreKernel<TLaunch>(int headClass, TLaunch tf32, TLaunch tf32Narrow, TLaunch bf16, TLaunch bf16Narrow)
        where TLaunch : Delegate =>
        KernelRegistry.Checked(_precision == MatMulPrecision.Bf16
            ? headClass == 0 ? bf16 : bf16Narrow
            : headClass == 0 ? tf32 : tf32Narrow);

    /// <summary>
    /// The forward (or decode step) on tensor cores where <see cref="AttentionOnTensorCores"/> or the head is a wide one
    /// that the GEMMs' tensor cores take too (<see cref="WideHeadFragments.Fits"/>; BF16 products under the bf16 precision,
    /// TF32 under tf32), else on the SIMT tiles.
    /// </summary>
    private void LaunchForward(AttentionArguments arguments, AttentionTiles tiles, int batchHeads, ArrayView<float> q,
        ArrayView<float> k, ArrayView<float> v, ArrayView<float> output, ArrayView<float> logSumExp)
    {
        bool bf16 = _precision == MatMulPrecision.Bf16;
        arguments = WithVectorRows(arguments, q, k, v);
        if (_tensorCores is not null && WideHeadFragments.Fits(arguments.HeadDim))
        {
            var wide = _tensorCoreWideForward ??= _accelerator.LoadCached(KernelRegistry.Checked<ForwardLaunch>(bf16
                ? TensorCoreWideAttentionBf16Kernels.Forward
                : TensorCoreWideAttentionKernels.Forward));
            var config = bf16
                ? ForwardConfig(TensorCoreWideAttentionBf16Kernels.TileQ, TensorCoreWideAttentionBf16Kernels.Threads,
                    TensorCoreWideAttentionBf16Kernels.SharedFloats, arguments.Queries, batchHeads)
                : ForwardConfig(TensorCoreWideAttentionKernels.TileQ, TensorCoreWideAttentionKernels.Threads,
                    TensorCoreWideAttentionKernels.SharedFloats, arguments.Queries, batchHeads);
            wide(_stream, config, q, k, v, output, logSumExp, arguments);
            return;
        }
        if (AttentionOnTensorCores(arguments.HeadDim))
        {
            int narrow = HeadClass(arguments.HeadDim);
            var kernel = TensorCoreKernel<ForwardLaunch>(narrow,
                TensorCoreAttentionKernels.Forward, TensorCoreAttentionKernels.ForwardNarrowHeads,
                TensorCoreAttentionBf16Kernels.Forward, TensorCoreAttentionBf16Kernels.ForwardNarrowHeads);
            if (bf16 && narrow == 0 && arguments.VectorRows != 0 && PipelinedAttention())
            {
                _pipelinedForward!(_stream, ForwardConfig(TensorCoreAttentionBf16Kernels.TileQ, TensorCoreAttentionBf16Kernels.Threads,
                    TensorCoreAttentionBf16Kernels.PipelinedSharedFloats, arguments.Queries, batchHeads), q, k, v, output, logSumExp,
                    _accelerator is CudaAccelerator
                        ? arguments with { KAddress = TensorCoreGemm.Address(k), VAddress = TensorCoreGemm.Address(v) }
                        : arguments);
                return;
            }
            var forward = _tensorCoreAttentionForward[narrow] ??= _accelerator.LoadCached(kernel,
                GemmBounds(kernel));
            var config = bf16
                ? ForwardConfig(narrow == 0 ? TensorCoreAttentionBf16Kernels.TileQ : TensorCoreAttentionBf16Kernels.NarrowTileQ,
                    narrow == 0 ? TensorCoreAttentionBf16Kernels.Threads : TensorCoreAttentionBf16Kernels.NarrowThreads,
                    TensorCoreAttentionBf16Kernels.SharedFloats, arguments.Queries, batchHeads)
                : ForwardConfig(TensorCoreAttentionKernels.TileQ, TensorCoreAttentionKernels.Threads,
                    TensorCoreAttentionKernels.SharedFloats, arguments.Queries, batchHeads);
            forward(_stream, config, q, k, v, output, logSumExp, arguments);
            return;
        }
        _attentionForward ??= _accelerator.LoadCached(
            KernelRegistry.Checked<ForwardLaunch>(AttentionKernels.Forward));
        _attentionForward(_stream, tiles.Config(LaunchPlan.Ceil(arguments.Queries, tiles.TileQ), batchHeads, _plan.AttentionGroup),
            q, k, v, output, logSumExp, arguments);
    }

    /// <summary>
    /// A tensor-core forward's launch: a group of <paramref name="threads"/> per <paramref name="tileQ"/> queries of a head.
    /// </summary>
    private static KernelConfig ForwardConfig(int tileQ, int threads, int sharedFloats, int queries, int batchHeads) => new(
        new Index2D(LaunchPlan.Ceil(queries, tileQ), LaunchPlan.GridYZ(batchHeads, "batch·heads")), new Index2D(threads, 1),
        SharedMemoryConfig.RequestDynamic<float>(sharedFloats));

    /// <summary>
    /// Arguments of one attention launch with the plan's tiles for <paramref name="pass"/>; backward passes add their
    /// gradients when <paramref name="accumulateGradients"/>, else write them.
    /// </summary>
    private AttentionArguments Arguments(AttentionPass pass, int heads, int headDim, int queries, int keys, int firstPosition, bool causal,
        int qBatchStride, int qRowStride, int kvBatchStride, int kvHeadStride, int kvRowStride, out AttentionTiles tiles,
        bool accumulateGradients = true)
    {
        tiles = _plan.Attention(pass, headDim, queries);
        return new AttentionArguments(heads, headDim, queries, keys, firstPosition, causal ? 1 : 0, 1f / MathF.Sqrt(headDim),
            qBatchStride, qRowStride, kvBatchStride, kvHeadStride, kvRowStride, tiles.TileQ, tiles.TileK, WriteLogSumExp: 1,
            AccumulateGradients: accumulateGradients ? 1 : 0);
    }

    /// <summary>
    /// <paramref name="arguments"/> with <see cref="AttentionArguments.VectorRows"/> set where every head row of
    /// <paramref name="q"/>, <paramref name="k"/> and <paramref name="v"/> starts on 16 bytes.
    /// </summary>
    private static AttentionArguments WithVectorRows(AttentionArguments arguments, ArrayView<float> q, ArrayView<float> k,
        ArrayView<float> v)
    {
        var a = arguments;
        bool strides = (a.HeadDim | a.QBatchStride | a.QRowStride | a.KvBatchStride | a.KvHeadStride | a.KvRowStride) % 4 == 0;
        bool views = ViewAlignment.On16Bytes(q) && ViewAlignment.On16Bytes(k) && ViewAlignment.On16Bytes(v);
        return a with { VectorRows = strides && views ? 1 : 0 };
    }

    /// <summary>Views of a packed [.., 3, heads, headDim] tensor starting at its q, k and v slots.</summary>
    private static (ArrayView<float> Q, ArrayView<float> K, ArrayView<float> V) Slots(ArrayView<float> packed, int slot) =>
        (packed, packed.SubView(slot, packed.Length - slot), packed.SubView(2 * slot, packed.Length - 2 * slot));

    private static void CheckAttention(Tensor<float> qkv, Tensor<float> output, int batch, int tokens, int heads, int headDim)
    {
        OpChecks.Attention(qkv, output, batch, tokens, heads, headDim);
        CheckHeadSize(headDim);
        HostChecks.Product((long)batch * tokens, 3L * heads, headDim);
    }

    private static void CheckHeadSize(int headDim)
    {
        if (headDim > MaxAttentionHeadDim)
            throw new ArgumentOutOfRangeException(nameof(headDim),
                $"The ILGPU attention kernels take head sizes up to {MaxAttentionHeadDim}; got {headDim}. " +
                "Use more heads of a smaller size.");
    }
}
