// Package depcheck pins the modules the packages under construction will
// import, so that go.mod and go.sum stay complete while they are written.
// It is removed once every module here is imported by real code.
package depcheck

import (
	_ "github.com/casbin/casbin/v2"
	_ "github.com/casbin/gorm-adapter/v3"
	_ "github.com/casbin/redis-watcher/v2"
	_ "github.com/chromedp/chromedp"
	_ "github.com/getkin/kin-openapi/openapi3"
	_ "github.com/getkin/kin-openapi/openapi3filter"
	_ "github.com/gin-gonic/gin"
	_ "github.com/glebarez/sqlite"
	_ "github.com/go-jose/go-jose/v4"
	_ "github.com/gowebpki/jcs"
	_ "github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	_ "github.com/hyperledger/fabric-chaincode-go/v2/shim"
	_ "github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/schollz/progressbar/v3"
	_ "go.etcd.io/bbolt"
	_ "golang.org/x/crypto/argon2"
	_ "gorm.io/driver/postgres"
	_ "gorm.io/gorm"
)
