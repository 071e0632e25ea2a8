// Package sim is the deterministic network simulator: many nodes in one
// process on a virtual clock. Its engine (engine.go, queue.go, links.go,
// faults.go, mining.go, observe.go, report.go, svg.go, sweep.go) drives
// nodes it knows only by the Node interface; ChainNode (node.go, its
// misbehaviour in misbehave.go, its invariants in check.go) is a node
// made of the node's own chain, mempool, block templates and peer layer;
// ClassicNode and the Controller (classic.go, controller.go) serve the
// clocked teaching scenario over HTTP.
//
// The engine owns time, links, the event queue, randomness, the mining
// schedule, observation and the report. It holds no consensus, relay or
// sync logic: it never looks inside a message's payload, never decides
// which block is best, whom to tell or what to fetch. Those decisions are
// the nodes' own, made by the node's real code behind the small Node
// interface; the engine only calls a node (Start, Receive, Wake, Mine) at a
// virtual instant and carries out what the node asks of its Env (Send,
// After, Observe). A node that implements Crasher hears of its crash; on
// restart the engine calls Start again, and what survives (the store) and
// what is lost (the memory) is the node's business. A node that implements
// Misbehaver hears when a BadBlocks fault makes it misbehave, and what it
// does wrong is its business too: a ChainNode sends invalid blocks, which
// the others' own chain and peer layer refuse, discouraging their sender.
// A reader can see this from the imports: the engine's files import
// nothing of the project, and ChainNode's reach chain, mempool, miner and
// p2p through their exported API alone, handing every message to
// p2p.Link.Deliver and every block to chain.ProcessBlock.
//
// # Time and order
//
// One goroutine pops events from a binary heap ordered by (virtual time,
// sequence number); the sequence number is given when an event is pushed,
// so two events at the same instant run in the order they were made. No map
// is iterated, no wall clock is read for the simulation and nothing runs
// concurrently, so the same Config (seed included) gives the same run byte
// for byte. Each processed event, drop and observation appends a canonical
// line (time in ns, kind, from, to, size, detail) to a running SHA-256
// whose hex digest the Report carries.
//
// Virtual time starts at Epoch (2027-01-01 UTC), whatever the wall clock.
// The few floating-point draws (Pareto latency, exponential waits) are
// plain Go arithmetic: byte-identical on one platform; another
// architecture's fused multiply-add could in principle differ.
//
// # Randomness
//
// Every random draw comes from a PCG source seeded from Config.Seed, on
// separate streams: the topology and the regions, the links (jitter,
// loss), the mining schedule, and one stream per node (Env.Rand). The
// mining schedule's stream depends on nothing the nodes do, so a change to
// the relay code meets the same block times and finders under the same
// seed, and two protocol versions can be compared run for run.
//
// # Links
//
// A topology in which each node dials PeersPerNode random peers
// (undirected, joined into one connected graph), or the edges given in
// Config.Edges; a LatencyModel (Uniform, or Regions in the manner of
// SimBlock's region matrix) for one-way latency, jitter and bandwidth; a
// transmission delay of size/bandwidth with the messages of one directed
// link sent one after another; FIFO per directed link (a message never
// overtakes an earlier one on the same link); a loss probability; and a
// schedule of faults (partitions, crashes and restarts, delay spikes,
// extra loss, nodes sending invalid blocks).
//
// # Mining
//
// Blocks are found as a Poisson process at one per Config.Interval
// network-wide; the finder is drawn by hash-power share. Transactions, when
// Config.TxInterval is set, come the same way, each handed to a random node
// that is a Transactor. A Manual run has neither: a controller calls the
// nodes (Sim.Call) and steps the clock (RunUntil). The engine then
// calls Mine on that node, which builds and announces its block as the real
// miner would; the engine only counts. A crashed node's share of the hash
// power is offline: a discovery drawn for it is skipped.
//
// # Observation
//
// Nodes report facts through Env.Observe (block mined with its parent,
// block first seen, tip changed, reorg depth, transaction submitted and
// confirmed, invalid block sent). From them, and from Config.Check's invariants at the end, the
// engine computes the Report: stale rate, propagation percentiles, reorg
// depths, confirmation times, convergence after partitions heal, events
// per second and peak memory, written by WriteReport as report.json with
// SVG plots beside it.
package sim
