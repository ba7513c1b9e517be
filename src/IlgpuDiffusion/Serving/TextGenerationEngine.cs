using System.Runtime.CompilerServices;

namespace IlgpuDiffusion.Serving;

/// <summary>
/// Serves one language model to many concurrent callers. Requests wait in a bounded queue (<see cref="TextEngineOptions.MaxQueue"/>;
/// beyond it <see cref="EngineBusyException"/> at once); one worker owns the model and runs the waiting requests that are
/// compatible (the same window length, steps, temperature and top-p; for GPT the same prompt length), up to
/// <see cref="TextEngineOptions.MaxBatch"/> sequences, as one batch: one sampler run for a diffusion model (each request's
/// prompt and suffix as its sequences' fixed tokens), one decoder run for GPT.
/// <para>
/// Seeds: the sampler draws one random stream per batch, keyed by batch row, so a request that names a
/// <see cref="TextRequest.Seed"/> runs in a batch of its own and gets exactly the texts of the language model's own
/// <c>Generate</c> with the same settings and seed; requests without a seed share batches under a fresh random seed.
/// </para>
/// <para>
/// Cancellation: a request cancelled while waiting leaves the queue at once; one cancelled while its batch runs ends at once
/// with <see cref="OperationCanceledException"/> and its rows' results are dropped (a batch whose requests are all cancelled
/// stops). The engine keeps serving. Disposing it fails the waiting and running requests with
/// <see cref="ObjectDisposedException"/>; the model stays the caller's to dispose.
/// </para>
/// </summary>
public sealed class TextGenerationEngine : IAsyncDisposable, IDisposable
{
    private readonly BatchBackend _backend;
    private readonly TextEngineOptions _options;
    private readonly LinkedList<PendingRequest> _queue = new();
    private readonly SemaphoreSlim _arrivals = new(0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _worker;
    private long _requests, _sequences, _batches, _passes;
    private bool _disposed;

    private TextGenerationEngine(BatchBackend backend, TextEngineOptions? options, string defaultName)
    {
        _options = options ?? new TextEngineOptions();
        if (_options.MaxBatch < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxBatch must be at least 1; got {_options.MaxBatch}.");
        if (_options.MaxQueue < 1)
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxQueue must be at least 1; got {_options.MaxQueue}.");
        _backend = backend;
        ModelName = _options.ModelName ?? defaultName;
        _worker = Task.Run(WorkAsync);
    }

    /// <summary>An engine over a diffusion model (which it does not dispose).</summary>
    public static TextGenerationEngine ForDiffusion(DiffusionLanguageModel model, TextEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new(new DiffusionBackend(model), options, "diffusion");
    }

    /// <summary>An engine over an autoregressive model (which it does not dispose).</summary>
    public static TextGenerationEngine ForGpt(GptLanguageModel model, TextEngineOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new(new GptBackend(model), options, "gpt");
    }

    /// <summary>The name the engine reports for its model.</summary>
    public string ModelName { get; }

    /// <summary>The model's length in tokens: prompt, suffix and new tokens together fit in it.</summary>
    public int MaxLength => _backend.MaxLength;

    /// <summary>Whether the model is a diffusion model (else GPT).</summary>
    public bool IsDiffusion => _backend.IsDiffusion;

    /// <summary>The engine's settings.</summary>
    public TextEngineOptions Options => _options;

    /// <summary>What the engine has run so far.</summary>
    public TextEngineStatistics Statistics => new(Interlocked.Read(ref _requests), Interlocked.Read(ref _sequences),
        Interlocked.Read(ref _batches), Interlocked.Read(ref _passes));

    /// <summary>Requests waiting for their batch.</summary>
    public int QueueLength
    {
        get
        {
            lock (_queue) return _queue.Count;
        }
    }

    /// <summary>Queues <paramref name="request"/> and completes with its texts once its batch has run.</summary>
    /// <exception cref="ArgumentException">A setting is out of range or unsupported by the model; the message says which.</exception>
    /// <exception cref="EngineBusyException">The queue is full.</exception>
    /// <exception cref="ObjectDisposedException">The engine is disposed (also when it is disposed before the request ends).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public Task<TextCompletion> CompleteAsync(TextRequest request, CancellationToken cancellationToken = default)
    {
        var pending = new PendingRequest(_backend.Prepare(request, _options), streams: false);
        Enqueue(pending, cancellationToken);
        return pending.Completion;
    }

    /// <summary>
    /// Queues <paramref name="request"/> and yields its state after every step of its batch (denoising steps, or tokens),
    /// then the finished texts (<see cref="TextUpdate.Final"/>). The request is checked at once; it is queued when the
    /// enumeration starts.
    /// </summary>
    /// <exception cref="ArgumentException">A setting is out of range or unsupported by the model; the message says which.</exception>
    /// <exception cref="EngineBusyException">The queue is full (thrown by the first move).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public IAsyncEnumerable<TextUpdate> StreamAsync(TextRequest request, CancellationToken cancellationToken = default)
    {
        PreparedRequest prepared = _backend.Prepare(request, _options);
        return Stream(prepared, cancellationToken);
    }

    /// <summary>Fails the waiting requests, stops the running batch and waits for the worker to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!Stop()) return;
        await _worker.ConfigureAwait(false);
        Release();
    }

    /// <summary>Fails the waiting requests, stops the running batch and waits for the worker to end.</summary>
    public void Dispose()
    {
        if (!Stop()) return;
        _worker.GetAwaiter().GetResult();
        Release();
    }

    private async IAsyncEnumerable<TextUpdate> Stream(PreparedRequest prepared,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var pending = new PendingRequest(prepared, streams: true);
        Enqueue(pending, cancellationToken);
        try
        {
            await foreach (TextUpdate update in pending.Updates.ReadAllAsync(cancellationToken).ConfigureAwait(false))
                yield return update;
        }
        finally
        {
            Withdraw(pending, cancellationToken); // a consumer that stops reading frees the request's place
        }
    }

    private void Enqueue(PendingRequest pending, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_queue)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_queue.Count >= _options.MaxQueue)
                throw new EngineBusyException($"The engine serving '{ModelName}' has {_queue.Count} requests waiting (its limit); " +
                    "try again later.");
            pending.Node = _queue.AddLast(pending);
        }
        pending.OnCancellation(cancellationToken, p => Withdraw(p, cancellationToken));
        _arrivals.Release();
    }

    /// <summary>Takes <paramref name="pending"/> out of the queue if it still waits, and cancels it.</summary>
    private void Withdraw(PendingRequest pending, CancellationToken cancellationToken)
    {
        lock (_queue)
        {
            if (pending.Node is not null) _queue.Remove(pending.Node);
            pending.Node = null;
        }
        pending.Cancel(cancellationToken);
    }

    private async Task WorkAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await _arrivals.WaitAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            List<PendingRequest> batch = TakeBatch();
            if (batch.Count > 0) await RunAsync(batch).ConfigureAwait(false);
        }
    }

    /// <summary>The first waiting request and those after it that may share its batch, taken out of the queue.</summary>
    private List<PendingRequest> TakeBatch()
    {
        var batch = new List<PendingRequest>();
        lock (_queue)
        {
            if (_queue.First is not { } first) return batch;
            PreparedRequest lead = first.Value.Prepared;
            int sequences = 0;
            for (LinkedListNode<PendingRequest>? node = first; node is not null; node = node.Next)
            {
                PreparedRequest candidate = node.Value.Prepared;
                bool fits = node == first || (!lead.RunsAlone && !candidate.RunsAlone && candidate.Key == lead.Key &&
                    sequences + candidate.Samples <= _options.MaxBatch);
                if (!fits) continue;
                batch.Add(node.Value);
                sequences += candidate.Samples;
                if (lead.RunsAlone) break;
            }
            foreach (PendingRequest pending in batch)
            {
                _queue.Remove(pending.Node!);
                pending.Node = null;
            }
        }
        return batch;
    }

    private async Task RunAsync(List<PendingRequest> batch)
    {
        ulong seed = batch[0].Prepared.Request.Seed ?? (ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        try
        {
            int passes = await _backend.RunAsync(batch, seed, _stopping.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _requests, batch.Count);
            Interlocked.Add(ref _sequences, batch.Sum(p => p.Prepared.Samples));
            Interlocked.Add(ref _passes, passes);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            foreach (PendingRequest pending in batch) pending.Fail(Disposed());
        }
        catch (Exception error)
        {
            // A failing run (e.g. a device error) fails its requests; the engine serves the next batch.
            foreach (PendingRequest pending in batch) pending.Fail(error);
        }
    }

    /// <summary>Marks the engine disposed, fails the waiting requests and stops the worker; false when already stopped.</summary>
    private bool Stop()
    {
        List<PendingRequest> waiting;
        lock (_queue)
        {
            if (_disposed) return false;
            _disposed = true;
            waiting = [.. _queue];
            _queue.Clear();
            foreach (PendingRequest pending in waiting) pending.Node = null;
        }
        foreach (PendingRequest pending in waiting) pending.Fail(Disposed());
        _stopping.Cancel();
        return true;
    }

    private void Release()
    {
        _stopping.Dispose();
        _arrivals.Dispose();
    }

    private ObjectDisposedException Disposed() =>
        new(nameof(TextGenerationEngine), $"The engine serving '{ModelName}' was disposed before the request finished.");
}
