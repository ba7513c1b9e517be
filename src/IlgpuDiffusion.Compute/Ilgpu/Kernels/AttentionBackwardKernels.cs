using ILGPU;
using static IlgpuDiffusion.Ilgpu.Kernels.AttentionKernels;

namespace IlgpuDiffusion.Ilgpu.Kernels;

/// <summary>
/// Flash-attention backward in two deterministic passes (FA2 style, no atomics): probabilities are
/// recomputed from the saved log-sum-exp, P = exp(Scale·q·kᵀ − lse), with dS = P ∘ (dO·vᵀ − D) and
/// D = rowsum(dO ∘ O) (<see cref="AttentionKernels.RowDot"/>). Pass 1 owns a key tile and walks the query
/// tiles accumulating dK = Scale·dSᵀ·Q and dV = Pᵀ·dO; pass 2 owns a query tile and walks the key tiles
/// accumulating dQ = Scale·dS·K. Each gradient element has one owner thread; results are added into dQkv.
/// Operands: q, k, v and dq, dk, dv are views of qkv / dQkv starting at the slot; dOutput [batch, T, heads, d];
/// logSumExp and rowDot [batch, heads, T]. FirstPosition is 0 and Queries = Keys = T.
/// </summary>
internal static class AttentionBackwardKernels
{
    /// <summary>
    /// dk, dv += the gradients of one key tile. Grid (⌈T/TileK⌉, batch·heads); shared <see cref="AttentionPass.KeyValue"/>.
    /// </summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void KeyValue(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dk, ArrayView<float> dv, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int d = a.HeadDim, stride = d + 1, tileQ = a.TileQ, tileK = a.TileK, tokens = a.Keys;
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, k0 = Grid.IdxX * tileK;
        int vBase = tileK * stride, dkBase = 2 * vBase, dvBase = 3 * vBase, qBase = 4 * vBase;
        int doBase = qBase + tileQ * stride, pBase = doBase + tileQ * stride, sBase = pBase + tileQ * tileK;
        int lseBase = sBase + tileQ * tileK, dBase = lseBase + tileQ;
        int tid = Group.IdxX, threads = Group.DimX;
        int qkvHead = b * a.QBatchStride + h * d, outHead = b * tokens * a.Heads * d + h * d, outRow = a.Heads * d;

        LoadRows(shared, 0, stride, k, qkvHead, a.QRowStride, k0, tileK, tokens, d);
        LoadRows(shared, vBase, stride, v, qkvHead, a.QRowStride, k0, tileK, tokens, d);
        ZeroRows(shared, dkBase, stride, tileK, d);
        ZeroRows(shared, dvBase, stride, tileK, d);
        int queryStart = a.Causal != 0 ? k0 / tileQ * tileQ : 0; // earlier queries see none of these keys
        for (int q0 = queryStart; q0 < tokens; q0 += tileQ)
        {
            LoadRows(shared, qBase, stride, q, qkvHead, a.QRowStride, q0, tileQ, tokens, d);
            LoadRows(shared, doBase, stride, dOutput, outHead, outRow, q0, tileQ, tokens, d);
            for (int r = tid; r < tileQ; r += threads)
            {
                bool inside = q0 + r < tokens;
                shared[lseBase + r] = inside ? logSumExp[bh * tokens + q0 + r] : 0f;
                shared[dBase + r] = inside ? rowDot[bh * tokens + q0 + r] : 0f;
            }
            Group.Barrier();
            for (int e = tid; e < tileQ * tileK; e += threads)
            {
                int r = e / tileK, c = e - r * tileK;
                float p = 0f, ds = 0f;
                if (a.Visible(q0 + r, k0 + c))
                {
                    p = MathF.Exp(a.Scale * Dot(shared, qBase + r * stride, c * stride, d) - shared[lseBase + r]);
                    ds = p * (Dot(shared, doBase + r * stride, vBase + c * stride, d) - shared[dBase + r]);
                }
                shared[pBase + e] = p;
                shared[sBase + e] = ds;
            }
            Group.Barrier();
            // dV[c, col] += Σ_r P[r, c]·dO[r, col]; dK[c, col] += Scale·Σ_r dS[r, c]·Q[r, col]
            for (int e = tid; e < tileK * d; e += threads)
            {
                int c = e / d, col = e - c * d;
                float accV = 0f, accK = 0f;
                for (int r = 0; r < tileQ; r++)
                {
                    accV += shared[pBase + r * tileK + c] * shared[doBase + r * stride + col];
                    accK += shared[sBase + r * tileK + c] * shared[qBase + r * stride + col];
                }
                shared[dvBase + c * stride + col] += accV;
                shared[dkBase + c * stride + col] += a.Scale * accK;
            }
            Group.Barrier();
        }
        for (int e = tid; e < tileK * d; e += threads)
        {
            int c = e / d, col = e - c * d;
            if (k0 + c >= tokens) continue;
            int index = qkvHead + (k0 + c) * a.QRowStride + col;
            GradientWrites.Put(dk, index, shared[dkBase + c * stride + col], a.AccumulateGradients);
            GradientWrites.Put(dv, index, shared[dvBase + c * stride + col], a.AccumulateGradients);
        }
    }

    /// <summary>dq += the gradient of one query tile. Grid (⌈T/TileQ⌉, batch·heads); shared <see cref="AttentionPass.Query"/>.</summary>
    [IlgpuKernel(KernelGrouping.Explicit)]
    public static void Query(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> dOutput,
        ArrayView<float> logSumExp, ArrayView<float> rowDot, ArrayView<float> dq, AttentionArguments a)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int d = a.HeadDim, stride = d + 1, tileQ = a.TileQ, tileK = a.TileK, tokens = a.Keys;
        int bh = Grid.IdxY, b = bh / a.Heads, h = bh - b * a.Heads, q0 = Grid.IdxX * tileQ;
        int doBase = tileQ * stride, dqBase = 2 * doBase, kBase = 3 * doBase, vBase = kBase + tileK * stride;
        int sBase = vBase + tileK * stride, lseBase = sBase + tileQ * tileK, dBase = lseBase + tileQ;
        int tid = Group.IdxX, threads = Group.DimX;
        int qkvHead = b * a.QBatchStride + h * d, outHead = b * tokens * a.Heads * d + h * d, outRow = a.Heads * d;

        LoadRows(shared, 0, stride, q, qkvHead, a.QRowStride, q0, tileQ, tokens, d);
        LoadRows(shared, doBase, stride, dOutput, outHead, outRow, q0, tileQ, tokens, d);
        ZeroRows(shared, dqBase, stride, tileQ, d);
        for (int r = tid; r < tileQ; r += threads)
        {
            bool inside = q0 + r < tokens;
            shared[lseBase + r] = inside ? logSumExp[bh * tokens + q0 + r] : 0f;
            shared[dBase + r] = inside ? rowDot[bh * tokens + q0 + r] : 0f;
        }
        int keyEnd = a.Causal != 0 ? XMin(tokens, q0 + tileQ) : tokens;
        for (int k0 = 0; k0 < keyEnd; k0 += tileK)
        {
            LoadRows(shared, kBase, stride, k, qkvHead, a.QRowStride, k0, tileK, tokens, d);
            LoadRows(shared, vBase, stride, v, qkvHead, a.QRowStride, k0, tileK, tokens, d);
            Group.Barrier();
            for (int e = tid; e < tileQ * tileK; e += threads)
            {
                int r = e / tileK, c = e - r * tileK;
                float ds = 0f;
                if (a.Visible(q0 + r, k0 + c))
                {
                    float p = MathF.Exp(a.Scale * Dot(shared, r * stride, kBase + c * stride, d) - shared[lseBase + r]);
                    ds = p * (Dot(shared, doBase + r * stride, vBase + c * stride, d) - shared[dBase + r]);
                }
                shared[sBase + e] = ds;
            }
            Group.Barrier();
            // dQ[r, col] += Scale·Σ_c dS[r, c]·K[c, col]
            for (int e = tid; e < tileQ * d; e += threads)
            {
                int r = e / d, col = e - r * d;
                float acc = 0f;
                for (int c = 0; c < tileK; c++) acc += shared[sBase + r * tileK + c] * shared[kBase + c * stride + col];
                shared[dqBase + r * stride + col] += a.Scale * acc;
            }
            Group.Barrier();
        }
        for (int e = tid; e < tileQ * d; e += threads)
        {
            int r = e / d, col = e - r * d;
            if (q0 + r < tokens)
                GradientWrites.Put(dq, qkvHead + (q0 + r) * a.QRowStride + col, shared[dqBase + r * stride + col], a.AccumulateGradients);
        }
    }
}
