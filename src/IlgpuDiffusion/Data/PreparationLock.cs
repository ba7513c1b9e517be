namespace IlgpuDiffusion.Data;

/// <summary>
/// Exclusive right to write an output folder of <see cref="CorpusPreparer"/>, between threads and processes: the lock
/// file <see cref="FileName"/> in the folder, open without sharing (an advisory <c>flock</c> on Unix, a sharing lock on
/// Windows) until disposed. The file stays, so that a waiting run never locks a file that is about to be deleted.
/// </summary>
internal sealed class PreparationLock : IDisposable
{
    /// <summary>The lock file's name inside the output folder.</summary>
    public const string FileName = ".prepare.lock";

    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(100);

    private readonly FileStream _file;

    private PreparationLock(FileStream file) => _file = file;

    /// <summary>Takes the lock of <paramref name="folder"/> (creating the folder), waiting while another run holds it.</summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled while waiting.</exception>
    public static PreparationLock Acquire(string folder, CancellationToken cancellationToken)
    {
        string path = Path.Combine(folder, FileName);
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Directory.CreateDirectory(folder);
            try
            {
                return new PreparationLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
            {
                // Held by another preparation (or the folder was just removed by a failed one): try again shortly.
                cancellationToken.WaitHandle.WaitOne(Poll);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _file.Dispose();
}
