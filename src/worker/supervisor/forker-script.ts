/**
 * The task forker: a small Perl program (perl-base is Essential on Debian,
 * so it is on every machine that has setpriv) that the task supervisor runs
 * once and that forks every task of the node.
 *
 * Why not Node's spawn: forking a ~60 MB Node process costs 5–9 ms on a
 * small VM (page tables, then copy-on-write faults in the parent), and the
 * parent blocks until the child has exec'd — plus a second exec of setpriv
 * to set PR_SET_PDEATHSIG. Perl forks in well under a millisecond, calls
 * prctl itself (one exec per task, not two) and never waits for the exec,
 * so hundreds of tasks start at the rate the kernel can exec them.
 *
 * It is the tasks' parent: it reaps them and reports their raw wait status,
 * and it delivers signals only to children it has not reaped yet, so a
 * signal can never reach a recycled PID. Each task leads its own session
 * (setsid), dies with the forker (PR_SET_PDEATHSIG SIGKILL, set after the
 * credentials change, which would clear it), and the forker dies with the
 * supervisor the same way: the kernel, not a process of ours, keeps a task
 * from outliving the fence.
 *
 * Protocol, one line each way; strings are 'x' + hex (any bytes, never a
 * space), numbers decimal, '-' for "not given":
 *   in:  S seq uid gid nice killgroup cwd cgc cgroup.procs… argc argv… envc env…
 *                                                     fork a task
 *        C seq                                        forget seq's log pipes
 *        K pid SIGNAME group                          signal a live child
 *   out: P seq pid outfd errfd   forked; its stdout/stderr pipes are these
 *                                fds of the forker (open /proc/PID/fd/N)
 *        T seq starttime         the child's /proc start time (it read its own)
 *        F seq errno message     the child could not exec (it exits 127/126)
 *        X pid status            reaped, raw wait status
 *        E seq|- message         a request it could not carry out (dropped)
 * End of stdin: it exits, and its remaining tasks die with it.
 */
export const FORKER_SCRIPT = String.raw`
use strict;
use warnings;
use POSIX ();
my ($PRCTL, $PARENT) = @ARGV;
# Die with the supervisor (PR_SET_PDEATHSIG = 1, SIGKILL = 9), and not start at all if it is already gone.
syscall($PRCTL, 1, 9) == 0 or die "prctl: $!";
exit 0 if getppid() != $PARENT;
$SIG{PIPE} = 'IGNORE';

$SIG{CHLD} = sub {}; # a handler, so a child's exit interrupts select
binmode STDIN; binmode STDOUT;
# Children report here (start time, exec failure), not on STDOUT: only the forker writes STDOUT, so
# its lines never interleave with theirs. Both ends close on exec (fd > 2).
pipe(my $cr, my $cw) or die "pipe: $!";
{ my $fl = fcntl($cr, POSIX::F_GETFL(), 0); fcntl($cr, POSIX::F_SETFL(), $fl | POSIX::O_NONBLOCK()); }
my $cbuf = '';
my %kids;   # pid => kill its process group when it exits
my %pipes;  # seq => [read ends] until the supervisor has opened them
my $out = '';
sub say_ { $out .= join(' ', @_) . "\n"; }
sub flush_ {
  while (length $out) {
    my $n = syswrite(STDOUT, $out);
    if (!defined $n) { next if $!{EINTR}; exit 0; }
    substr($out, 0, $n) = '';
  }
}
sub unhex { my $s = shift; $s =~ s/^x// or die "bad string\n"; return pack('H*', $s); }
sub num { my $s = shift; return undef if $s eq '-'; $s =~ /^-?\d+$/ or die "bad number\n"; return $s + 0; }
sub drain {
  while (defined(my $r = sysread($cr, $cbuf, 65536, length $cbuf))) { last if $r == 0; }
  while ((my $i = index($cbuf, "\n")) >= 0) { $out .= substr($cbuf, 0, $i + 1, ''); }
}
sub reap {
  my @done;
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $st = $?;
    next unless exists $kids{$pid};
    # Background leftovers of a process task would hold its pipes open: the group goes with its leader.
    kill('KILL', -$pid) if delete $kids{$pid};
    push @done, "X $pid $st\n";
  }
  return unless @done;
  # A child's own lines (its start time, why it failed) were written before it exited: they go first.
  drain();
  $out .= join('', @done);
}
sub start {
  my ($seq, $uid, $gid, $nice, $kg, $cwd, @rest) = @_;
  $seq = num($seq); $uid = num($uid); $gid = num($gid); $nice = num($nice); $kg = num($kg);
  $cwd = $cwd eq '-' ? undef : unhex($cwd);
  my $cgc = num(shift @rest); my @cgs = map { unhex($_) } splice(@rest, 0, $cgc);
  my $argc = num(shift @rest); my @argv = map { unhex($_) } splice(@rest, 0, $argc);
  my $envc = num(shift @rest); my @env = map { unhex($_) } splice(@rest, 0, $envc);
  die "no argv\n" unless @argv && @argv == $argc && @env == $envc;
  pipe(my $or, my $ow) or die "pipe: $!\n";
  pipe(my $er, my $ew) or die "pipe: $!\n";
  my $pid = fork();
  if (!defined $pid) { die "fork: $!\n"; }
  if ($pid == 0) {
    my $fail = sub { my ($code, $what) = @_; my $e = ($!{ENOENT} ? 'ENOENT' : $!{EACCES} ? 'EACCES' : 'E' . ($! + 0));
      syswrite($cw, "F $seq $e x" . unpack('H*', "$what: $!") . "\n"); POSIX::_exit($code); };
    POSIX::setsid();
    # Its start time pairs with its PID (a recycled PID never passes for it). Read here, by itself:
    # a read of /proc/PID/stat by anyone else waits while the process is in execve.
    if (open(my $st, '<', '/proc/self/stat')) { my $l = <$st>; close $st; $l =~ s/^.*\) //s; my @f = split(/ /, $l); syswrite($cw, "T $seq $f[19]\n"); }
    # Into its cgroups before it runs an instruction of its own (as root: before the credentials drop).
    for my $cg (@cgs) {
      open(my $c, '>', $cg) or $fail->(125, "join $cg");
      defined(syswrite($c, "$$\n")) or $fail->(125, "join $cg");
      close($c) or $fail->(125, "join $cg");
    }
    setpriority(0, 0, $nice) if defined $nice;
    if (defined $gid) { $( = $gid; $) = "$gid $gid"; $fail->(126, "setgid") if (split(" ", $)))[0] != $gid; }
    if (defined $uid) { POSIX::setuid($uid) or $fail->(126, 'setuid'); }
    syscall($PRCTL, 1, 9) == 0 or $fail->(126, 'prctl');
    POSIX::_exit(137) if getppid() == 1;
    if (defined $cwd) { chdir($cwd) or $fail->(126, "chdir $cwd"); }
    open(STDIN, '<', '/dev/null') or $fail->(126, 'stdin');
    POSIX::dup2(fileno($ow), 1) // $fail->(126, 'stdout');
    POSIX::dup2(fileno($ew), 2) // $fail->(126, 'stderr');
    %ENV = ();
    for (@env) { my ($k, $v) = split(/=/, $_, 2); $ENV{$k} = $v // ''; }
    $SIG{PIPE} = 'DEFAULT'; $SIG{CHLD} = 'DEFAULT';
    { no warnings 'exec'; exec { $argv[0] } @argv; }
    $fail->($!{ENOENT} ? 127 : 126, "exec $argv[0]");
  }
  close $ow; close $ew;
  $kids{$pid} = $kg ? 1 : 0;
  $pipes{$seq} = [$or, $er];
  say_('P', $seq, $pid, fileno($or), fileno($er));
}
sub handle {
  my @f = split(/ /, shift);
  my $op = shift(@f) // '';
  if ($op eq 'S') { start(@f); }
  elsif ($op eq 'C') { delete $pipes{num($f[0])}; }
  elsif ($op eq 'K') {
    my ($pid, $sig, $group) = (num($f[0]), $f[1], num($f[2]));
    die "bad signal\n" unless $sig =~ /^[A-Z0-9]+$/;
    kill($sig, $group ? -$pid : $pid) if exists $kids{$pid}; # never a PID we have reaped: it may be someone else's now
  }
  else { die "unknown request\n"; }
}
my $in = '';
while (1) {
  reap();
  flush_();
  my $rin = ''; vec($rin, fileno(STDIN), 1) = 1; vec($rin, fileno($cr), 1) = 1;
  # SIGCHLD interrupts the wait; the timeout only covers one arriving between reap() and select().
  my $n = select(my $rout = $rin, undef, undef, %kids ? 0.25 : undef);
  next if $n <= 0;
  drain() if vec($rout, fileno($cr), 1);
  next unless vec($rout, fileno(STDIN), 1);
  my $r = sysread(STDIN, $in, 65536, length $in);
  if (!defined $r) { next if $!{EINTR} || $!{EAGAIN}; last; }
  last if $r == 0;
  while ((my $i = index($in, "\n")) >= 0) {
    my $line = substr($in, 0, $i + 1, '');
    chomp $line;
    eval { handle($line); 1 } or do { my $e = $@; $e =~ s/\s+$//; say_('E', ($line =~ /^S (\d+) / ? $1 : '-'), 'x' . unpack('H*', $e)); };
  }
}
flush_();
`;
