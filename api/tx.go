package api

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/chain"
	"github.com/hashforge/hashforge/mempool"
)

// Pool is what the API uses of the transaction pool.
type Pool interface {
	Add(tx *chain.Tx) error
	Get(txid chain.Hash) (*chain.Tx, bool)
	Entries() ([]mempool.Entry, mempool.Stats, error)
	Stats() mempool.Stats
	Account(a chain.Address) (chain.Account, int, error)
	MinFee(size int) uint64
}

// maxTxBody bounds a posted transaction: the largest transfer is about 400
// bytes, so even hex inside JSON fits many times over.
const maxTxBody = 16 << 10

// readBody reads a request body of at most limit bytes, answering 413 and
// returning false when it is larger.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("body exceeds %d bytes", limit))
		} else {
			writeError(w, http.StatusBadRequest, codeMalformed, "read body: "+err.Error())
		}
		return nil, false
	}
	return body, true
}

// decodeTx reads a transaction posted as JSON, as {"hex": "..."} or as bare
// hex of its encoding.
func decodeTx(body []byte) (*chain.Tx, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] != '{' {
		return decodeTxHex(string(body))
	}
	var wrapped struct {
		Hex string `json:"hex"`
	}
	if json.Unmarshal(body, &wrapped) == nil && wrapped.Hex != "" {
		return decodeTxHex(wrapped.Hex)
	}
	tx := new(chain.Tx)
	if err := json.Unmarshal(body, tx); err != nil {
		return nil, err
	}
	return tx, nil
}

func decodeTxHex(s string) (*chain.Tx, error) {
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("transaction hex: %w", err)
	}
	return chain.DecodeTx(raw)
}

func (s *Server) postTx(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r, maxTxBody)
	if !ok {
		return
	}
	tx, err := decodeTx(body)
	if err != nil {
		if code := chain.Code(err); code != "" {
			writeError(w, http.StatusUnprocessableEntity, string(code), err.Error())
		} else {
			writeError(w, http.StatusBadRequest, codeMalformed, "transaction: "+err.Error())
		}
		return
	}
	s.submit(w, tx)
}

// submit hands tx to the pool and answers with its txid. Posting a pending
// transaction again succeeds, so a client may retry safely.
func (s *Server) submit(w http.ResponseWriter, tx *chain.Tx) {
	err := s.cfg.Pool.Add(tx)
	if code := mempool.Code(err); err != nil && code != mempool.ErrKnown {
		if code == "" {
			writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		} else {
			writeError(w, http.StatusUnprocessableEntity, string(code), err.Error())
		}
		return
	}
	writeJSON(w, http.StatusOK, apiclient.TxResult{TxID: tx.Hash()})
}

func (s *Server) getTx(w http.ResponseWriter, r *http.Request) {
	id, err := chain.ParseHash(r.PathValue("txid"))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
		return
	}
	// The chain first: a transaction confirmed a moment ago may still wait
	// in a pool that has not caught up with the tip.
	tx, loc, ok, err := s.cfg.Chain.Transaction(id)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	if ok {
		confirmations := s.cfg.Chain.Tip().Height - loc.Height + 1
		writeJSON(w, http.StatusOK, apiclient.TxStatus{TxID: id, Status: "confirmed", Height: &loc.Height, Block: &loc.Block, Confirmations: confirmations, Tx: tx})
		return
	}
	if tx, ok := s.cfg.Pool.Get(id); ok {
		writeJSON(w, http.StatusOK, apiclient.TxStatus{TxID: id, Status: "pending", Tx: tx})
		return
	}
	writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("transaction %s is neither pending nor on the main chain", id))
}

const (
	defaultMempoolLimit = 100
	maxMempoolLimit     = 10_000
)

func (s *Server) mempool(w http.ResponseWriter, r *http.Request) {
	limit, ok := parseLimit(w, r, defaultMempoolLimit, 0, maxMempoolLimit)
	if !ok {
		return
	}
	entries, st, err := s.cfg.Pool.Entries()
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	out := apiclient.Mempool{Count: st.Count, Bytes: st.Bytes, Fees: st.Fees, Txs: []apiclient.PendingTx{}}
	for _, e := range entries[:min(limit, len(entries))] {
		out.Txs = append(out.Txs, apiclient.PendingTx{Tx: e.Tx, Size: e.Size, FeeRate: float64(e.Tx.Fee) / float64(e.Size), Added: e.Added})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) account(w http.ResponseWriter, r *http.Request) {
	a, err := chain.ParseAddress(r.PathValue("addr"))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeMalformed, err.Error())
		return
	}
	acc, pending, err := s.cfg.Pool.Account(a)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, apiclient.Account{Address: a, Balance: acc.Balance, Nonce: acc.Nonce, Pending: uint64(pending)})
}

// maxWordsBody bounds POST /api/words: the memo limit, escaped, with room.
const maxWordsBody = 4 << 10

// words signs the posted text into a memo transfer from the node's own key
// to itself, paying the pool's minimum fee, so the text is mined into a block.
func (s *Server) words(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Text string `json:"text"`
	}
	if !decodeStrict(w, r, maxWordsBody, &req, `{"text": "..."}`) {
		return
	}
	if req.Text == "" {
		writeError(w, http.StatusBadRequest, codeMalformed, "text is empty")
		return
	}
	if len(req.Text) > chain.MaxMemo {
		writeError(w, http.StatusUnprocessableEntity, string(chain.ErrMemoTooLong), fmt.Sprintf("text of %d bytes exceeds %d", len(req.Text), chain.MaxMemo))
		return
	}
	// The pool checks nonces in sequence: two words requests must not sign
	// the same one.
	s.wordsMu.Lock()
	defer s.wordsMu.Unlock()
	self := s.nodeID
	acc, pending, err := s.cfg.Pool.Account(self)
	if err != nil {
		writeError(w, http.StatusInternalServerError, codeInternal, err.Error())
		return
	}
	// A transfer's size depends on its memo alone.
	fee := s.cfg.Pool.MinFee((&chain.Tx{Kind: chain.TxTransfer, Memo: []byte(req.Text)}).Size())
	if acc.Balance < fee {
		writeError(w, http.StatusUnprocessableEntity, string(chain.ErrInsufficientFunds),
			fmt.Sprintf("the node's address %s holds %d units and cannot pay the fee of %d: mine a block or send it coins", self, acc.Balance, fee))
		return
	}
	s.submit(w, s.cfg.Signer.Transfer(self, 0, fee, acc.Nonce+uint64(pending), []byte(req.Text)))
}
